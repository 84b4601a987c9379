"""One parser for every configuration dict: explicit defaults, typed values, errors naming the key.

Each concern declares its options once as a ``{name: Option}`` spec (``vitals:`` for collection,
``carbon:`` / ``influxdb:`` for the returners, ``vitals:pollpush:`` on the master). Values come
from Salt config, pillar, ``--return_kwargs`` or the command line, often as strings, so each
kind accepts the string forms an operator would type.
"""

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

from salt_ext.core.errors import ConfigError

Options = dict[str, Any]
"""A parsed options dict: every key of its spec, typed values."""

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", ""}


class Option:
    """One option: its kind (``str``, ``int``, ``float``, ``bool``, ``list``, ``dict``), default
    and constraints. ``secret`` options are never echoed in error messages."""

    def __init__(
        self,
        kind: str,
        default: Any,
        choices: Optional[Sequence[Any]] = None,
        minimum: Optional[float] = None,
        secret: bool = False,
        doc: str = "",
    ) -> None:
        self.kind = kind
        self.default = default
        self.choices = choices
        self.minimum = minimum
        self.secret = secret
        self.doc = doc


def parse(
    prefix: str, raw: object, spec: Mapping[str, Option], allow_unknown: bool = False
) -> Options:
    """Validate ``raw`` (a dict, or None) against ``spec`` and fill in defaults.

    Raises :class:`ConfigError` naming ``prefix:key`` for the first bad value, or for an unknown
    key unless ``allow_unknown``.
    """
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(prefix, f"must be a dict, got {type(raw).__name__}")
    if not allow_unknown:
        unknown = sorted(str(k) for k in raw if k not in spec)
        if unknown:
            raise ConfigError(
                f"{prefix}:{unknown[0]}", f"unknown option (known: {', '.join(sorted(spec))})"
            )
    out = {}
    for name, option in spec.items():
        value = raw.get(name)
        if value is None:
            out[name] = _copy(option.default)
        else:
            out[name] = _convert(f"{prefix}:{name}", value, option)
    return out


def _copy(value: Any) -> Any:
    return (
        list(value)
        if isinstance(value, list)
        else dict(value)
        if isinstance(value, dict)
        else value
    )


def _convert(key: str, value: Any, option: Option) -> Any:
    shown = "<hidden>" if option.secret else repr(value)
    kind = option.kind
    try:
        if kind == "str":
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError
            value = str(value)
        elif kind == "bool":
            if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
                value = bool(value)
            elif isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                value = value.strip().lower() in _TRUE
            elif not isinstance(value, bool):
                raise ValueError
        elif kind in ("int", "float"):
            if isinstance(value, bool):
                raise ValueError
            value = float(value) if kind == "float" else _to_int(value)
            if not math.isfinite(value):
                raise ValueError
        elif kind == "list":
            value = _to_list(value)
        elif kind == "dict":
            if not isinstance(value, dict):
                raise ValueError
            value = {str(k): str(v) for k, v in value.items()}
        else:  # pragma: no cover - a spec bug, not user input
            raise AssertionError(f"unknown option kind {kind}")
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(key, f"expected {_KIND_TEXT[kind]}, got {shown}") from None
    if option.choices is not None and value not in option.choices:
        raise ConfigError(key, f"must be one of {', '.join(map(str, option.choices))}, got {shown}")
    if option.minimum is not None and value < option.minimum:
        raise ConfigError(key, f"must be at least {option.minimum}, got {shown}")
    return value


def _to_int(value: Any) -> int:
    if isinstance(value, float) and not value.is_integer():
        raise ValueError
    return int(value)


def _to_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int)) for v in value):
        return [str(v) for v in value]
    raise ValueError


_KIND_TEXT = {
    "str": "a string",
    "bool": "true or false",
    "int": "an integer",
    "float": "a number",
    "list": "a list of strings (or one comma-separated string)",
    "dict": "a dict",
}


# --- Salt's config lookups, without a call through the loader per key -------------------------


def salt_lookup(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func(key, default="")`` for Salt's loaded ``config.option`` or ``config.get``, read
    from the mappings of the loader that function runs in instead of calling it.

    Both return, for a plain key, the value of the first of the minion opts, grains, pillar,
    the master's config in pillar and the config module's built-in ``DEFAULTS`` that has the
    key, else the default. A call through Salt's loader costs ~12 us in a warm process and up
    to ~0.4 ms as the first call of a freshly forked job; this reads the same mappings (tested
    against calling Salt). What only Salt's function does is left to it: ``config.get``'s
    nested ``a:b`` keys and ``sdb://`` values. Any other callable (a stand-in, a loader that
    does not look like Salt's) is returned as is.
    """
    loader = getattr(func, "loader", None)
    sources = _salt_sources(getattr(loader, "pack", None), getattr(func, "func", None))
    if sources is None:
        return func
    return _reader(sources, func.func.__name__ == "get", lambda: func)  # type: ignore[attr-defined]


def salt_config(salt_funcs: Any, name: str) -> Optional[Callable[..., Any]]:
    """``salt_funcs[name]``, Salt's ``config.option`` or ``config.get``, as :func:`salt_lookup`
    reads it; None when there is no such function. ``salt_funcs`` is a loader module's
    ``__salt__`` or a stand-in mapping.

    When Salt's loader has loaded the function already, its mappings are found without
    ``salt_funcs[name]``: each access makes a loaded-function wrapper, and the first one made
    in a freshly forked job costs it ~0.2 ms (Salt's loader code touched for the first time
    there: copy-on-write page faults).
    """
    loader = salt_funcs
    context = sys.modules.get("salt.loader.context")  # imported if a loader made salt_funcs
    if context is not None and type(salt_funcs) is context.NamedLoaderContext:
        loader = salt_funcs.value()
    loaded = getattr(loader, "_dict", None)  # what Salt's loaded functions call
    raw = loaded.get(name) if isinstance(loaded, dict) else None
    sources = _salt_sources(getattr(loader, "pack", None), raw)
    if sources is not None:
        return _reader(sources, name == "config.get", lambda: salt_funcs[name])
    func = salt_funcs.get(name)
    return None if func is None else salt_lookup(func)


def _reader(
    sources: list[Mapping[str, Any]], is_get: bool, salt_func: Callable[[], Callable[..., Any]]
) -> Callable[..., Any]:
    def lookup(key: str, default: Any = "") -> Any:
        if is_get and ":" in key:
            return salt_func()(key, default)
        for source in sources:
            if key in source:
                value = source[key]
                if is_get and isinstance(value, str) and value.startswith("sdb://"):
                    return salt_func()(key, default)
                return value
        return default

    return lookup


def _salt_sources(pack: object, func: object) -> Optional[list[Mapping[str, Any]]]:
    """The mappings ``func`` (Salt's ``config.option`` or ``config.get``, as loaded) reads for
    a plain key, from its loader's ``pack``; None when they do not look like Salt's."""
    if not isinstance(pack, dict) or getattr(func, "__name__", None) not in ("option", "get"):
        return None
    # Plain dicts (Salt's OptsDict is one) only: a context-bound value (NamedLoaderContext, a
    # Mapping) would resolve in the caller's loader, not func's; anything else goes to Salt.
    opts, grains, pillar = (
        pack.get("__opts__", {}),
        pack.get("__grains__", {}),
        pack.get("__pillar__", {}),
    )
    if not (isinstance(opts, dict) and isinstance(grains, dict) and isinstance(pillar, dict)):
        return None
    master = pillar.get("master", {})
    defaults = getattr(func, "__globals__", {}).get("DEFAULTS", {})
    if not (isinstance(master, dict) and isinstance(defaults, dict)):
        return None
    return [opts, grains, pillar, master, defaults]
