{#- InfluxDB 1.x from Debian's package: config, the service, then (auth on) the first admin, the
    database, its default retention policy (the raw tier), the downsampling tiers (a retention
    policy and a continuous query each; the query of a tier taken out of the pillar dropped)
    and the users with their grants. Pillar: see pillar.example (influxdb_server:). #}
{%- from 'influxdb/map.jinja' import influxdb with context %}
{%- from 'vitals/macros.jinja' import daemon with context %}
{%- set url = 'http://127.0.0.1:' ~ influxdb.port %}
{%- set login = {'url': url, 'admin_user': influxdb.admin.user, 'admin_password': influxdb.admin.password} if influxdb.auth else {'url': url} %}

influxdb-package:
  pkg.installed:
    - pkgs: {{ influxdb.pkgs|json }}

influxdb-config:
  file.managed:
    - name: /etc/influxdb/influxdb.conf
    - source: salt://influxdb/files/influxdb.conf.jinja
    - template: jinja
    - context:
        influxdb: {{ influxdb|json }}
    - mode: '0644'
    - require:
      - pkg: influxdb-package

{{ daemon('influxdb-service', 'influxdb', '/run/influxdb/influxd.pid', '/var/log/influxdb/influxd.log',
          'influxdb:influxdb', 'Listening on HTTP',
          ['/usr/bin/influxd', 'run', '-config', '/etc/influxdb/influxdb.conf'],
          watch=[{'file': 'influxdb-config'}], require=[{'pkg': 'influxdb-package'}]) }}

{%- if influxdb.auth %}

influxdb-admin:
  vitals_influxdb.admin_present:
    - name: {{ influxdb.admin.user|json }}
    - password: {{ influxdb.admin.password|json }}
    - url: {{ url }}
    - require:
      - influxdb-service
{%- endif %}

influxdb-database:
  vitals_influxdb.database_present:
    - name: {{ influxdb.database|json }}
{%- for key, value in login.items() %}
    - {{ key }}: {{ value|json }}
{%- endfor %}
    - require:
      - influxdb-service
{%- if influxdb.auth %}
      - influxdb-admin
{%- endif %}

influxdb-retention-policy:
  vitals_influxdb.retention_policy_present:
    - name: {{ influxdb.retention.name|json }}
    - database: {{ influxdb.database|json }}
    - duration: {{ influxdb.retention.duration|string|json }}
    - replication: {{ influxdb.retention.replication|default(1) }}
{%- if influxdb.retention.shard_duration %}
    - shard_duration: {{ influxdb.retention.shard_duration|string|json }}
{%- endif %}
    - default: true
{%- for key, value in login.items() %}
    - {{ key }}: {{ value|json }}
{%- endfor %}
    - require:
      - influxdb-database

{%- for tier in influxdb.downsample %}

influxdb-tier-{{ tier.name }}:
  vitals_influxdb.retention_policy_present:
    - name: {{ tier.name|json }}
    - database: {{ influxdb.database|json }}
    - duration: {{ tier.duration|string|json }}
    - replication: {{ influxdb.retention.replication|default(1) }}
{%- for key, value in login.items() %}
    - {{ key }}: {{ value|json }}
{%- endfor %}
    - require:
      - influxdb-database

influxdb-tier-{{ tier.name }}-query:
  vitals_influxdb.continuous_query_present:
    - name: {{ tier.name|json }}
    - database: {{ influxdb.database|json }}
    - source: {{ influxdb.retention.name|json }}
    - every: {{ tier.every|string|json }}
{%- if tier.get('late') %}
    - late: {{ tier.late|string|json }}
{%- endif %}
{%- for key, value in login.items() %}
    - {{ key }}: {{ value|json }}
{%- endfor %}
    - require:
      - influxdb-retention-policy
      - influxdb-tier-{{ tier.name }}
{%- endfor %}

influxdb-downsample-pruned:
  vitals_influxdb.downsampling_pruned:
    - name: {{ influxdb.database|json }}
    - source: {{ influxdb.retention.name|json }}
    - keep: {{ influxdb.downsample|map(attribute='name')|list|json }}
{%- for key, value in login.items() %}
    - {{ key }}: {{ value|json }}
{%- endfor %}
    - require:
      - influxdb-database

{%- if influxdb.auth %}
{%- for name, user in influxdb.users|dictsort %}

influxdb-user-{{ name }}:
  vitals_influxdb.user_present:
    - name: {{ name|json }}
    - password: {{ user.password|json }}
{%- for key, value in login.items() %}
    - {{ key }}: {{ value|json }}
{%- endfor %}
    - require:
      - influxdb-admin

influxdb-grant-{{ name }}:
  vitals_influxdb.grant_present:
    - name: {{ name|json }}
    - database: {{ influxdb.database|json }}
    - grant: {{ user.grant|upper }}
{%- for key, value in login.items() %}
    - {{ key }}: {{ value|json }}
{%- endfor %}
    - require:
      - influxdb-user-{{ name }}
      - influxdb-database
{%- endfor %}
{%- endif %}
