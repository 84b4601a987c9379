{#- A node tripped the "hot" rule: stop its heavy workload (here a service named
    "batch-worker"; adapt) and tell the other reactors through an event of our own.
    Start it again from a reactor on salt/beacon/*/vitals/hot/cleared, or by hand. #}
stop-workload-{{ data['id'] }}:
  local.service.stop:
    - tgt: {{ data['id'] }}
    - args:
      - name: batch-worker

announce-{{ data['id'] }}:
  runner.event.send:
    - args:
      - tag: vitals/overheat/{{ data['id'] }}
      - data:
          key: {{ data['key'] }}
          celsius: {{ data['value'] }}
