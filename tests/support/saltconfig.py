"""A stand-in ``__salt__`` for calling the returner core without a minion."""


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
