{#- The master side: master.d/vitals-master.conf with the vitals_pollpush defaults and the
    schedule that runs vitals.pollpush every vitals_master:schedule_seconds; the master is
    restarted only when that file changed. Apply it to the minion that runs on the master host.
    The file owns the top-level keys vitals_pollpush: and schedule: (Salt merges schedule
    entries across master.d files, but a master.d file's schedule: replaces the main file's). #}
{%- from 'vitals/map.jinja' import master, salt_bin with context %}
{%- set config = {
      'vitals_pollpush': master.pollpush,
      'schedule': {'vitals-pollpush': {'function': 'vitals.pollpush',
                                        'seconds': master.schedule_seconds,
                                        'maxrunning': 1}}} %}

vitals-master-config:
  file.serialize:
    - name: {{ master.conf_dir }}/master.d/vitals-master.conf
    - dataset: {{ config|json }}
    - serializer: yaml
    - mode: '0644'
    - makedirs: true

vitals-master-restart:
  cmd.run:
    - name: {{ master.restart_command|json }}
    - bg: true
    - prepend_path: {{ salt_bin|json }}
    - onchanges:
      - file: vitals-master-config
