{#- graphite-web (Debian's package) with its database migrated once, served by gunicorn on
    graphite:web:port (no Apache). Included by graphite when graphite:web:enabled. #}
{%- from 'graphite/map.jinja' import graphite with context %}
{%- from 'vitals/macros.jinja' import daemon with context %}
{#- Debian's graphite/wsgi.py defaults GRAPHITE_SETTINGS_MODULE to graphite.local_settings,
    which Debian does not ship: without this, /etc/graphite/local_settings.py is ignored. #}
{%- set gunicorn = ['/usr/bin/gunicorn',
                    '--bind', graphite.web.interface ~ ':' ~ graphite.web.port,
                    '--workers', graphite.web.workers|string, '--preload',
                    '--pythonpath', '/etc/graphite',
                    '--env', 'GRAPHITE_SETTINGS_MODULE=local_settings',
                    '--env', 'DJANGO_SETTINGS_MODULE=graphite.settings',
                    'graphite.wsgi:application'] %}

graphite-web-packages:
  pkg.installed:
    - pkgs: {{ graphite.web.pkgs|json }}

graphite-web-settings:
  file.managed:
    - name: /etc/graphite/local_settings.py
    - source: salt://graphite/files/local_settings.py.jinja
    - template: jinja
    - context:
        graphite: {{ graphite|json }}
    - user: root
    - group: _graphite
    - mode: '0640'
    - show_changes: false
    - require:
      - pkg: graphite-web-packages

{#- logs written by an earlier run as root would stop the workers (_graphite) from booting #}
graphite-web-logs:
  file.directory:
    - name: /var/log/graphite
    - user: _graphite
    - group: _graphite
    - recurse: [user, group]
    - require:
      - pkg: graphite-web-packages

{#- the database lives here: graphite-web ships it owned by root, and graphite-carbon's postinst,
    which hands it to _graphite, may run later in this apply or not at all #}
graphite-web-storage:
  file.directory:
    - name: /var/lib/graphite
    - user: _graphite
    - group: _graphite
    - require:
      - pkg: graphite-web-packages

{%- set manage = 'runuser -u _graphite -- env GRAPHITE_SETTINGS_MODULE=local_settings PYTHONPATH=/etc/graphite graphite-manage' %}
graphite-web-migrate:
  cmd.run:
    - name: {{ manage }} migrate --run-syncdb --noinput >/dev/null
    - unless: test -s /var/lib/graphite/graphite.db && {{ manage }} migrate --check >/dev/null
    - require:
      - file: graphite-web-settings
      - file: graphite-web-logs
      - file: graphite-web-storage

{{ daemon('graphite-web-service', 'graphite-web', '/run/graphite-web/gunicorn.pid', '/var/log/graphite/gunicorn.log',
          '_graphite:_graphite', 'Listening at', gunicorn,
          watch=[{'file': 'graphite-web-settings'}], require=[{'cmd': 'graphite-web-migrate'}],
          unit='[Unit]\nDescription=graphite-web (gunicorn)\nAfter=network.target\n\n[Service]\nUser=_graphite\nGroup=_graphite\nExecStart=' ~ gunicorn|join(' ') ~ '\nRestart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n') }}
