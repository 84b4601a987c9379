"""A stand-in ``__salt__`` for calling the returner core without a minion."""

import contextlib


def salt_funcs(config):
    """``{"config.option": ...}`` answering from ``config`` as Salt's ``config.option`` does:
    exact keys only (``carbon.host`` and a nested ``carbon:`` dict both work through
    ``salt.returners.get_returner_options``), ``""`` for a missing key unless a default is
    given."""

    def option(value, default=None, **_):
        if value in config:
            return config[value]
        return "" if default is None else default

    return {"config.option": option}


@contextlib.contextmanager
def config_sources(pack):
    """The mappings Salt's ``config.get`` and ``config.option`` read, by name (``__opts__``,
    ``__grains__``, ``__pillar__`` of a loader's ``pack`` and ``master``, the master's config
    in pillar); what is written into them is undone on exit."""
    pillar = pack["__pillar__"]
    had_master = "master" in pillar
    targets = {
        "__opts__": pack["__opts__"],
        "__grains__": pack["__grains__"],
        "__pillar__": pillar,
        "master": pillar.setdefault("master", {}),
    }
    saved = {name: dict(target) for name, target in targets.items()}
    try:
        yield targets
    finally:
        for name, target in targets.items():
            for key in [key for key in target if key not in saved[name]]:
                del target[key]
            for key, value in saved[name].items():
                if key not in target or target[key] is not value:
                    target[key] = value
        if not had_master:
            del pillar["master"]
