{#- Grafana dashboards and provisioning for salt-vitals, only where Grafana is installed.

    Pillar (all optional; see pillar.example):
      vitals:grafana:
        provisioning_dir: /etc/grafana/provisioning
        dashboards_dir: /var/lib/grafana/dashboards/salt-vitals
        folder: Vitals
        graphite_url: http://graphite:8080       # omit to leave that data source out
        influxdb_url: http://influxdb:8086
        influxdb_db: salt
        influxdb_user: grafana
        influxdb_password: ...                   # goes to secureJsonData, file mode 0640
        service: grafana-server                  # restarted when the data sources change
-#}
{%- set g = salt['pillar.get']('vitals:grafana', {}) %}
{%- set provisioning = g.get('provisioning_dir', '/etc/grafana/provisioning') %}
{%- set dashboards = g.get('dashboards_dir', '/var/lib/grafana/dashboards/salt-vitals') %}
{%- set service = g.get('service', 'grafana-server') %}
{%- set installed = salt['file.directory_exists'](provisioning) %}
{%- if installed %}
vitals-grafana-dashboards:
  file.recurse:
    - name: {{ dashboards }}
    - source: salt://{{ slspath }}/dashboards
    - include_pat: '*.json'
    - makedirs: True
    - clean: False
    - file_mode: '0644'

vitals-grafana-dashboard-provider:
  file.managed:
    - name: {{ provisioning }}/dashboards/salt-vitals.yaml
    - source: salt://{{ slspath }}/provisioning/dashboards.yaml.jinja
    - template: jinja
    - makedirs: True
    - mode: '0644'
    - context:
        folder: {{ g.get('folder', 'Vitals') | json }}
        dashboards_dir: {{ dashboards | json }}

vitals-grafana-datasources:
  file.managed:
    - name: {{ provisioning }}/datasources/salt-vitals.yaml
    - source: salt://{{ slspath }}/provisioning/datasources.yaml.jinja
    - template: jinja
    - makedirs: True
    - mode: '0640'
    - show_changes: False
    - context:
        graphite_url: {{ g.get('graphite_url', '') | json }}
        influxdb_url: {{ g.get('influxdb_url', '') | json }}
        influxdb_db: {{ g.get('influxdb_db', 'salt') | json }}
        influxdb_user: {{ g.get('influxdb_user', '') | json }}
        influxdb_password: {{ g.get('influxdb_password', '') | json }}
{%- if 'service.available' in salt and salt['service.available'](service) %}

vitals-grafana-restart:
  service.running:
    - name: {{ service }}
    - watch:
      - file: vitals-grafana-datasources
      - file: vitals-grafana-dashboard-provider
{%- endif %}
{%- else %}
vitals-grafana-not-installed:
  test.show_notification:
    - text: 'Grafana is not installed here ({{ provisioning }} is missing): nothing to do'
{%- endif %}
