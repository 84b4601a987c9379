{#- salt-vitals on a minion: the package into the minion's own Python (from wheels the master
    serves, or the index), the returner options in minion.d/vitals-agent.conf (mode 0600: it
    holds the InfluxDB password; the file owns the top-level carbon: and influxdb: keys), and a
    minion restart only when one of them changed. #}
{%- from 'vitals/map.jinja' import agent, salt_bin with context %}
{%- set onedir_pip = agent.onedir_root ~ '/salt-pip' %}
{%- if agent.bin_env %}
{%-   set bin_env = agent.bin_env %}
{%- elif grains.pythonexecutable.startswith(agent.onedir_root ~ '/') and salt['file.file_exists'](onedir_pip) %}
{%-   set bin_env = onedir_pip %}
{%- else %}
{%-   set bin_env = grains.pythonexecutable %}
{%- endif %}
{%- set conf_dir = agent.conf_dir or salt['file.dirname'](opts.conf_file) %}
{%- set wheel_dir = opts.cachedir ~ '/vitals-wheels' %}
{%- set settings = {} %}
{%- if 'carbon' in agent.returners %}
{%-   do settings.update({'carbon': agent.carbon}) %}
{%- endif %}
{%- if 'influxdb' in agent.returners %}
{%-   set influx_user = salt['pillar.get']('influxdb_server:users:salt:password') %}
{%-   set influx = {'db': salt['pillar.get']('influxdb_server:database', 'salt')} %}
{%-   if influx_user %}
{%-     do influx.update({'user': 'salt', 'password': influx_user}) %}
{%-   endif %}
{%-   do influx.update(agent.influxdb) %}
{%-   do settings.update({'influxdb': influx}) %}
{%- endif %}

{%- if agent.wheels %}

vitals-agent-wheels:
  file.recurse:
    - name: {{ wheel_dir }}
    - source: {{ agent.wheels }}
    - clean: true
{%- endif %}

vitals-agent-package:
  pip.installed:
    - pkgs: [salt-vitals, psutil]
    - bin_env: {{ bin_env|json }}
{%- if agent.wheels %}
    - no_index: true
    - find_links: {{ wheel_dir }}
    - require:
      - file: vitals-agent-wheels
{%- endif %}

vitals-agent-config:
  file.serialize:
    - name: {{ conf_dir }}/minion.d/vitals-agent.conf
    - dataset: {{ settings|json }}
    - serializer: yaml
    - mode: '0600'
    - makedirs: true
    - show_changes: false

vitals-agent-restart:
  cmd.run:
    - name: {{ agent.restart_command|json }}
    - bg: true
    - prepend_path: {{ salt_bin|json }}
    - onchanges:
      - pip: vitals-agent-package
      - file: vitals-agent-config
