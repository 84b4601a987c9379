"""``vitals.pollpush`` in plain Python: what the master publishes to the minions, from its
``vitals_pollpush:`` settings and the runner's arguments (one ``LocalClient.cmd_async`` call)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from salt_ext.core.collect.collection import VITALS_OPTIONS, WINDOW_OPTIONS, validate_options
from salt_ext.core.config import Option, parse
from salt_ext.core.errors import ConfigError
from salt_ext.core.jobs.push import PUSH_DEFAULTS, returner_names

TARGET_TYPES = (
    "glob",
    "pcre",
    "list",
    "grain",
    "grain_pcre",
    "pillar",
    "pillar_pcre",
    "nodegroup",
    "range",
    "compound",
    "ipcidr",
)

# The runner's settings: a top-level key of the master config of their own, so that a master.d
# file holding them (``state.apply vitals.master`` writes one) never shadows another reader's.
POLLPUSH_KEY = "vitals_pollpush"

POLLPUSH_OPTIONS = {
    "tgt": Option("str", "*", doc="target expression"),
    "tgt_type": Option("str", "glob", choices=TARGET_TYPES, doc="how tgt is matched"),
    "returners": Option("str", "carbon", doc="comma-separated returners, e.g. carbon,influxdb"),
    **WINDOW_OPTIONS,
    "mode": Option(
        "str",
        "push",
        choices=("push", "return"),
        doc="push: minions call the returners (receipts only); return: plain ret= job",
    ),
    "ret_config": Option("str", None, doc="returner profile (--return_config)"),
    "ret_kwargs": Option("dict", {}, doc="returner options for this run (--return_kwargs)"),
    "timeout": Option("int", None, minimum=1, doc="publish timeout passed to Salt"),
}


@dataclass
class Publication:
    """One ``LocalClient.cmd_async`` call: ``fun`` with keyword arguments ``kwarg``."""

    tgt: str
    tgt_type: str
    fun: str
    kwarg: dict[str, Any]
    ret: str = ""
    timeout: Optional[int] = None
    ret_config: Optional[str] = None  # only with mode return: the job's own returner settings
    ret_kwargs: dict[str, Any] = field(default_factory=dict)

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``cmd_async``, without the unset ones."""
        out: dict[str, Any] = {
            "tgt": self.tgt,
            "tgt_type": self.tgt_type,
            "fun": self.fun,
            "arg": [],
            "kwarg": self.kwarg,
            "ret": self.ret,
        }
        optional = {"timeout": self.timeout, "ret_config": self.ret_config}
        out.update((key, value) for key, value in optional.items() if value)
        if self.ret_kwargs:
            out["ret_kwargs"] = self.ret_kwargs
        return out


def publication(raw: Mapping[str, Any]) -> Publication:
    """What ``vitals.pollpush`` publishes for the merged settings ``raw`` (master config, then
    arguments). Keys of :data:`POLLPUSH_OPTIONS` are the runner's own; every other key is a
    ``vitals:`` collection option, validated as the minions would (errors name ``vitals:<key>``)
    and published only when it differs from the default. Raises :class:`ConfigError`."""
    own = {key: value for key, value in raw.items() if key in POLLPUSH_OPTIONS}
    opts = parse(POLLPUSH_KEY, own, POLLPUSH_OPTIONS)
    returners = ",".join(returner_names(opts["returners"], f"{POLLPUSH_KEY}:returners"))
    collection = _non_default_collection({k: v for k, v in raw.items() if k not in own})
    collection["samples"] = opts["samples"]
    if opts["interval"] is not None:
        collection["interval"] = opts["interval"]
    settings = {"tgt": opts["tgt"], "tgt_type": opts["tgt_type"], "timeout": opts["timeout"]}
    if opts["mode"] == "return":
        return Publication(
            fun="vitals.current",
            kwarg=collection,
            ret=returners,
            ret_config=opts["ret_config"],
            ret_kwargs=opts["ret_kwargs"],
            **settings,
        )
    collection["returners"] = returners
    collection.update((k, opts[k]) for k in ("ret_config", "ret_kwargs") if opts[k])
    # every argument comes back in each minion's return load: publish only non-defaults
    kwarg = {k: v for k, v in collection.items() if PUSH_DEFAULTS.get(k) != v}
    return Publication(fun="vitals.push", kwarg=kwarg, **settings)


def _non_default_collection(raw: dict[str, Any]) -> dict[str, Any]:
    if not raw:
        return {}
    unknown = sorted(key for key in raw if key not in VITALS_OPTIONS)
    if unknown:
        known = ", ".join(sorted({*POLLPUSH_OPTIONS, *VITALS_OPTIONS}))
        raise ConfigError(f"{POLLPUSH_KEY}:{unknown[0]}", f"unknown option (known: {known})")
    parsed, defaults = validate_options(raw, POLLPUSH_KEY), validate_options(None)
    return {key: parsed[key] for key in raw if parsed[key] != defaults[key]}
