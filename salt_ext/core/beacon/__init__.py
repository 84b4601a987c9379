"""The ``vitals`` beacon: threshold rules, and push mode's delivery worker."""
