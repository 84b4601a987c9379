"""Collection: one snapshot of raw readings (psutil, ``/proc``, ``/sys``), rates between
collections, and the vitals dict of samples."""
