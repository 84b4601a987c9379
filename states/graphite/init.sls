{#- carbon-cache from Debian's graphite-carbon: carbon.conf, storage-schemas.conf (existing
    whisper files resized to it), the service; graphite-web under gunicorn when
    graphite:web:enabled. Pillar: see pillar.example (graphite:). #}
{%- from 'graphite/map.jinja' import graphite with context %}
{%- from 'vitals/macros.jinja' import daemon, systemd_booted with context %}
{%- set retentions = graphite.retentions.split(',') %}

graphite-carbon-packages:
  pkg.installed:
    - pkgs: {{ graphite.pkgs|json }}

graphite-carbon-enabled:
  file.replace:
    - name: /etc/default/graphite-carbon
    - pattern: '^CARBON_CACHE_ENABLED=.*$'
    - repl: CARBON_CACHE_ENABLED=true
    - append_if_not_found: true
    - require:
      - pkg: graphite-carbon-packages

graphite-carbon-conf:
  file.managed:
    - name: /etc/carbon/carbon.conf
    - source: salt://graphite/files/carbon.conf.jinja
    - template: jinja
    - context:
        graphite: {{ graphite|json }}
    - mode: '0644'
    - require:
      - pkg: graphite-carbon-packages

graphite-storage-schemas:
  file.managed:
    - name: /etc/carbon/storage-schemas.conf
    - source: salt://graphite/files/storage-schemas.conf.jinja
    - template: jinja
    - context:
        graphite: {{ graphite|json }}
    - mode: '0644'
    - require:
      - pkg: graphite-carbon-packages

{#- carbon reads the new schema only for new files: bring the existing ones to it #}
graphite-whisper-resize:
  cmd.run:
    - name: >-
        find /var/lib/graphite/whisper -name '*.wsp' -not -path '/var/lib/graphite/whisper/carbon/*'
        -exec whisper-resize --nobackup {} {{ retentions|map('quote')|join(' ') }} ';' >/dev/null
        && chown -R _graphite:_graphite /var/lib/graphite/whisper
    - onchanges:
      - file: graphite-storage-schemas
{%- if not systemd_booted %}
    - require:
      - cmd: graphite-carbon-service-stop-on-change   # no carbon writes during the resize
{%- endif %}

{#- carbon drops to USER = _graphite itself; ready when both receivers listen #}
{{ daemon('graphite-carbon-service', 'carbon-cache', '/run/carbon-cache/carbon-cache.pid', '/var/log/carbon/daemon.log',
          'root:root', 'CarbonReceiverFactory starting on ' ~ graphite.carbon.pickle_port,
          ['/usr/bin/carbon-cache', '--config=/etc/carbon/carbon.conf', '--logdir=/var/log/carbon/',
           '--pidfile=/run/carbon-cache/carbon-cache-a.pid', '--debug', 'start'],
          watch=[{'file': 'graphite-carbon-enabled'}, {'file': 'graphite-carbon-conf'}, {'file': 'graphite-storage-schemas'}],
          require=[{'pkg': 'graphite-carbon-packages'}, {'cmd': 'graphite-whisper-resize'}],
          stale=['/run/carbon-cache/carbon-cache-a.pid']) }}

{%- if graphite.web.enabled %}

include:
  - graphite.web
{%- endif %}
