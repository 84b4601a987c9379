{#- Grafana dashboards and provisioning for salt-vitals, only where Grafana is installed.
    Pillar: vitals_grafana: (see pillar.example). #}
{%- from 'grafana/map.jinja' import grafana as g with context %}
{%- set provisioning = g.provisioning_dir %}
{%- set dashboards = g.dashboards_dir %}
{%- set service = g.service %}
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
        folder: {{ g.folder | json }}
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
        graphite_url: {{ g.graphite_url | json }}
        influxdb_url: {{ g.influxdb_url | json }}
        influxdb_db: {{ g.influxdb_db | json }}
        influxdb_user: {{ g.influxdb_user | json }}
        influxdb_password: {{ g.influxdb_password | json }}
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
