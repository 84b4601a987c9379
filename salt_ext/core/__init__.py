"""Plain-Python core shared by the loader modules (no Salt dunders in here).

Two modules import Salt, each for one helper, so that options and grains are read exactly as
Salt reads them: :mod:`~salt_ext.core.backend` (``salt.returners.get_returner_options``) and
:mod:`~salt_ext.core.influxdb` (``salt.utils.data.traverse_dict_and_list`` for ``grain_tags``).
Every other module, the serializers (:mod:`~salt_ext.core.graphite`,
:mod:`~salt_ext.core.line_protocol`) first, is free of Salt.
"""
