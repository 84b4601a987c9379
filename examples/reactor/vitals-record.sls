{#- Append one line per vitals beacon event to a log on the master:
    <at> <minion> <rule> <tripped|cleared> <key>=<value> (<severity>)
    salt.cmd runs file.append in the master's own process (no minion involved); file.append
    needs the file to exist: touch /var/log/salt/vitals-events.log once. #}
record-vitals-event:
  runner.salt.cmd:
    - args:
      - fun: file.append
      - path: /var/log/salt/vitals-events.log
      - args:
        - "{{ data['at'] | int }} {{ data['id'] }} {{ data['rule'] }} {{ data['state'] }} {{ data['key'] }}={{ data['value'] }} ({{ data['severity'] }})"
