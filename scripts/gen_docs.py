"""Write the configuration reference, the README option tables and ``pillar.example``.

One source per key: the ``Option`` specs in ``salt_ext/core`` for what the Python code reads,
the SLS ``defaults.yaml`` files (their comments included) for the pillar the bundled states
read. ``python scripts/gen_docs.py`` rewrites ``docs/configuration.md``, the README blocks
between ``<!-- options:NAME -->`` and ``<!-- /options:NAME -->`` and ``states/pillar.example``;
``--check`` only reports stale files (exit status 1), which is what
``tests/unit/scripts/test_gen_docs.py`` asserts. It reads the specs of the *installed* salt_ext,
so run it after ``scripts/test.sh`` (re)installed the wheel:
``.venv/bin/python scripts/gen_docs.py``.
"""

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from salt_ext.core.beacon.rules import RULE_OPTIONS
from salt_ext.core.beacon.worker import PUSH_OPTIONS
from salt_ext.core.collect.collection import VITALS_OPTIONS
from salt_ext.core.delivery.returner import DELIVERY_OPTIONS
from salt_ext.core.graphite.carbon import BACKEND as CARBON
from salt_ext.core.influxdb.admin import CONNECTION_OPTIONS
from salt_ext.core.influxdb.write import BACKEND as INFLUXDB
from salt_ext.core.jobs.pollpush import POLLPUSH_KEY, POLLPUSH_OPTIONS
from salt_ext.core.readback.options import QUERY_KEY, QUERY_OPTIONS

ROOT = Path(__file__).resolve().parent.parent
STATES = ROOT / "states"


@dataclass(frozen=True)
class Namespace:
    """One part of the configuration tree and its one reader."""

    key: str  # as an operator writes it; errors name keys as <key>:<option>
    set_in: str
    reader: str
    about: str
    spec: Optional[dict] = None  # the Option spec its reader parses against
    sls: Optional[str] = None  # or: the SLS whose defaults.yaml is its spec (states/<sls>/)
    marker: Optional[str] = None  # README block <!-- options:<marker> -->


NAMESPACES = [
    Namespace(
        "vitals",
        "minion config, grains or pillar (Salt's `config.get`); any key also per call",
        "`vitals.current`, `vitals.push` and the `vitals` beacon on the minion",
        "The collection options. Any key may also be given per call "
        "(`vitals.current exclude_groups=temp`) or published by `vitals.pollpush`.",
        spec=VITALS_OPTIONS,
        marker="vitals",
    ),
    Namespace(
        POLLPUSH_KEY,
        "master config (`master.d/*.conf`)",
        "the `vitals.pollpush` runner",
        "Every key is also an argument of `salt-run vitals.pollpush`, which wins. Any `vitals:` "
        "collection key may be added here too: it is checked on the master and published to the "
        "minions. `state.apply vitals.master` writes this key into `master.d/vitals-master.conf` "
        "from `vitals_master:pollpush`.",
        spec=POLLPUSH_OPTIONS,
        marker="pollpush",
    ),
    Namespace(
        QUERY_KEY,
        "master config (`master.d/*.conf`)",
        "the read-back runners `vitals.top`, `vitals.history`, `vitals.least_loaded`",
        "Where the vitals are read back from (docs/readback.md); only `backend` may be given on "
        "the command line, credentials never.",
        spec=QUERY_OPTIONS,
    ),
    Namespace(
        "carbon",
        "`carbon.<key>` or a nested `carbon:` dict in minion config, grains or pillar; "
        "`<profile>.carbon` with `ret_config`; `--return_kwargs`",
        "the `carbon` returner (also called by `vitals.push` and the push beacon)",
        "Read the way Salt's own returners read theirs (`salt.returners.get_returner_options`). "
        "`state.apply vitals.agent` writes this key into `minion.d/vitals-agent.conf` from "
        "`vitals_agent:carbon`.",
        spec={**CARBON.options, **DELIVERY_OPTIONS},
        marker="carbon",
    ),
    Namespace(
        "influxdb",
        "as `carbon:` (`influxdb.<key>`, a nested dict, `<profile>.influxdb`, `--return_kwargs`)",
        "the `influxdb` returner (also called by `vitals.push` and the push beacon)",
        "`state.apply vitals.agent` writes this key into `minion.d/vitals-agent.conf` from "
        "`vitals_agent:influxdb`.",
        spec={**INFLUXDB.options, **DELIVERY_OPTIONS},
        marker="influxdb",
    ),
    Namespace(
        "vitals_influxdb",
        "minion config or pillar of the InfluxDB host; any key also per call or per state",
        "the `vitals_influxdb` execution and state modules",
        "How `salt influx-host vitals_influxdb.*` and the `vitals_influxdb.*` states reach the "
        "server (the `influxdb` SLS passes these per state instead).",
        spec=CONNECTION_OPTIONS,
    ),
    Namespace(
        "beacons:vitals:rules:<rule>",
        "minion config or pillar: `beacons: vitals: - rules: {<rule>: ...}`",
        "the `vitals` beacon",
        "One dict per named rule; give exactly one of `above` / `below` (docs/beacon.md). The "
        "beacon list takes `rules`, `push` and Salt's own beacon keys (`interval`, "
        "`disable_during_state_run`, ...), nothing else.",
        spec=RULE_OPTIONS,
        marker="rules",
    ),
    Namespace(
        "beacons:vitals:push",
        "minion config or pillar: `beacons: vitals: - push: {...}`",
        "the `vitals` beacon (push mode)",
        "Plus any option of the named returners (as `--return_kwargs`); the returners' own "
        "`carbon:` / `influxdb:` settings apply otherwise (docs/beacon.md).",
        spec=PUSH_OPTIONS,
        marker="push",
    ),
    Namespace(
        "graphite",
        "pillar of the Graphite host",
        "the `graphite` SLS (and `graphite.web`)",
        "carbon-cache, whisper retentions and graphite-web.",
        sls="graphite",
    ),
    Namespace(
        "influxdb_server",
        "pillar of the InfluxDB host",
        "the `influxdb` SLS",
        "influxd, its admin, database, retention policy and users. Not `influxdb:`, which "
        "Salt gives to the influxdb returner's options.",
        sls="influxdb",
    ),
    Namespace(
        "vitals_grafana",
        "pillar of the Grafana host",
        "the `grafana` SLS",
        "salt-vitals' dashboards and data sources. Not `grafana:`, which belongs to whatever "
        "installs Grafana itself (e.g. saltstack-formulas' grafana-formula).",
        sls="grafana",
    ),
    Namespace(
        "vitals_agent",
        "pillar of every minion",
        "the `vitals.agent` SLS",
        "Installs salt-vitals and writes `minion.d/vitals-agent.conf`, which owns the minion "
        "config's top-level `carbon:` and `influxdb:` keys.",
        sls="vitals",
    ),
    Namespace(
        "vitals_master",
        "pillar of the minion on the master host",
        "the `vitals.master` SLS",
        "Writes `master.d/vitals-master.conf`, which owns the master config's top-level "
        "`vitals_pollpush:` and `schedule:` keys.",
        sls="vitals",
    ),
]

# The SLS directories whose defaults.yaml make up pillar.example, in its order.
SLS_DEFAULTS = ["graphite", "influxdb", "grafana", "vitals"]

HEADER = """# Configuration

Every key salt-vitals reads, generated by `scripts/gen_docs.py` from the option specs in
`salt_ext/core` and the bundled SLS' `defaults.yaml`: do not edit by hand
(`tests/unit/scripts/test_gen_docs.py` fails when this page, the README tables or
`pillar.example` are stale).

## One tree, one reader per key

Each top-level key below has exactly one reader, and each reader checks its own section
strictly: an unknown key or a bad value is refused with the full key path, e.g.
`vitals:sample_interval: expected a number, got 'fast'`, `carbon:hots: unknown option (known:
...)`, `influxdb_server:retention:durration: unknown key (known: ...)`. Values given as strings
(command line, `--return_kwargs`) are converted: `true` / `false` / `yes` / `no` for booleans,
`a,b` for lists. Secrets are never echoed.

How the names were chosen:

- **Where Salt decides, Salt's convention.** A returner's options live under the returner's
  name (`carbon:`, `influxdb:`, `<profile>.<returner>` for `ret_config`), as
  `salt.returners.get_returner_options` reads them and as Salt's own carbon and influxdb
  returners did; a beacon's under `beacons: <name>:`; an execution module's connection under
  the module's name (`vitals_influxdb:`).
- **The minion's collection under the module's name**, `vitals:`, read by `config.get`.
- **The master's settings in top-level keys of their own**, `vitals_pollpush:` and
  `vitals_query:`. Salt merges `master.d/*.conf` over the main master file one top-level key
  at a time, so the file `state.apply vitals.master` writes (which owns `vitals_pollpush:`) can
  never hide the read-back settings an operator put in the main file or another `master.d`
  file, as a shared `vitals:` key did.
- **A formula's pillar under the formula's name**, as saltstack-formulas do, except where that
  name already belongs to a run-time reader: `graphite:` for the `graphite` SLS, but
  `influxdb_server:` for the `influxdb` SLS (`influxdb:` is the returner's), and `vitals_agent:`,
  `vitals_master:`, `vitals_grafana:` for salt-vitals' own SLS (`vitals:` is the collection's;
  `grafana:` belongs to whatever installs Grafana). No SLS reads a key a run-time component
  reads.
- **A file a state writes owns whole top-level keys** and nobody is told to set them
  elsewhere: `minion.d/vitals-agent.conf` (`carbon:`, `influxdb:`), `master.d/vitals-master.conf`
  (`vitals_pollpush:`, `schedule:`), `master.d/vitals-file-roots.conf` (`file_roots:`, written by
  `salt-run vitals.file_root write=True`). With `vitals.agent`, set returner options in
  `vitals_agent:carbon` / `vitals_agent:influxdb`; keep other master schedules in
  `master.d/*.conf` files (Salt merges `schedule:` entries across them).

Salt's own settings read as well: the minion's `id` and `cachedir` (spool, rate state), the
master's `file_roots` (`vitals.file_root`), the grains `init` (systemd or not) and
`pythonexecutable` (which pip `vitals.agent` uses), and the grains named in
`influxdb:grain_tags`.
"""


def _code(text):
    return f"`{text}`"


def format_default(key, option):
    value = option.default
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return _code(str(value).lower())
    if isinstance(value, (int, float)):
        number = int(value) if float(value).is_integer() else value
        text = _code(number)
        if key.endswith("_bytes") and number and number % 2**20 == 0:
            text += f" ({number // 2**20} MiB)"
        elif key.endswith("_age") and number and number % 86400 == 0:
            text += f" ({number // 86400} days)"
        return text
    if isinstance(value, list):
        return ", ".join(map(_code, value)) if value else "`[]`"
    if isinstance(value, dict):
        return _code(value) if value else "`{}`"
    return _code(f'"{value}"') if value == "" else _code(value)


def constraints(option):
    out = []
    if option.choices is not None:
        out.append("one of " + ", ".join(_code(c) for c in option.choices))
    if option.minimum is not None:
        minimum = option.minimum
        out.append(f"≥ {int(minimum) if float(minimum).is_integer() else minimum}")
    if option.secret:
        out.append("**secret**: never logged, returned or spooled")
    return "; ".join(out)


def _rows(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for cells in rows:
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def table(spec):
    return _rows(
        ["key", "type", "default", "constraints", "description"],
        [
            [_code(key), option.kind, format_default(key, option), constraints(option), option.doc]
            for key, option in spec.items()
        ],
    )


# -- the SLS pillar: defaults.yaml, its comments as the descriptions -----------------------------

_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][\w-]*):(?P<rest>.*)$")


def _value_and_comment(rest):
    """Split `` value   # comment`` (a ``#`` inside quotes is part of the value)."""
    quote = None
    for pos, char in enumerate(rest):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (pos == 0 or rest[pos - 1] == " "):
            return rest[:pos].strip(), rest[pos + 1 :].strip()
    return rest.strip(), ""


def pillar_keys(text):
    """[(key path, default, description)] of a defaults.yaml, in file order: every key, with
    the comment lines above it and the comment after it as its description."""
    data = yaml.safe_load(text)
    out, stack, pending = [], [], []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            pending = []
            continue
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        match = _KEY_LINE.match(line)
        if not match:
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match["key"]))
        path = [key for _, key in stack]
        value = data
        for key in path:
            value = value[key]
        written, comment = _value_and_comment(match["rest"])
        about = " ".join(pending + ([comment] if comment else []))
        pending = []
        shown = written or isinstance(value, list)  # a list written as block items
        out.append((":".join(path), value if shown else None, about))
    return out


def _pillar_default(value):
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return _code(yaml.safe_dump(value, default_flow_style=True, width=1000).strip())
    if isinstance(value, bool):
        return _code(str(value).lower())
    return '`""`' if value == "" else _code(value)


def sls_table(namespace):
    text = (STATES / namespace.sls / "defaults.yaml").read_text(encoding="utf-8")
    rows = [
        [_code(path), _pillar_default(default), about]
        for path, default, about in pillar_keys(text)
        if path.startswith(namespace.key + ":")
    ]
    return _rows(["key", "default", "description"], rows)


def configuration_md():
    parts = [HEADER, "## Every top-level key\n"]
    parts.append(
        _rows(
            ["key", "set in", "read by"],
            [[_code(ns.key), ns.set_in, ns.reader] for ns in NAMESPACES],
        )
    )
    for ns in NAMESPACES:
        body = table(ns.spec) if ns.spec is not None else sls_table(ns)
        parts.append(f"## `{ns.key}`\n\nSet in: {ns.set_in}. Read by: {ns.reader}. {ns.about}\n")
        parts.append(body)
    return "\n".join(parts)


def pillar_example():
    """The whole pillar of the bundled SLS: every defaults.yaml, comments included."""
    parts = [
        "# Pillar for the bundled states (graphite, influxdb, grafana, vitals.agent,\n"
        "# vitals.master), generated from their defaults.yaml by scripts/gen_docs.py.\n"
        "# Every key and its default is here; leave a key out to get its default. A bad value\n"
        '# or an unknown key fails the state run with the key named (e.g. "graphite:carbon:\n'
        "# line_port: expected a port number 1-65535, got 'x'\"). Change every CHANGE-ME.\n"
        "# Each root is read by one SLS only: docs/configuration.md.\n"
    ]
    for sls in SLS_DEFAULTS:
        parts.append((STATES / sls / "defaults.yaml").read_text(encoding="utf-8"))
    return "\n".join(parts)


def readme(text):
    """``text`` with every ``<!-- options:NAME -->`` block regenerated."""
    for ns in NAMESPACES:
        if ns.marker is None:
            continue
        start, end = f"<!-- options:{ns.marker} -->", f"<!-- /options:{ns.marker} -->"
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md has no {start} ... {end} block")
        replacement = f"{start}\n{table(ns.spec)}{end}"
        text = pattern.sub(lambda _match, r=replacement: r, text)
    return text


def rendered(root=ROOT):
    """{path: wanted content} for every generated file."""
    root = Path(root)
    return {
        root / "docs" / "configuration.md": configuration_md(),
        root / "README.md": readme((root / "README.md").read_text(encoding="utf-8")),
        root / "states" / "pillar.example": pillar_example(),
    }


def stale(root=ROOT):
    """Generated files whose checked-in content differs from the specs."""
    return [
        str(path.relative_to(root))
        for path, text in rendered(root).items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale files, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        found = stale()
        for path in found:
            print(f"stale: {path} (run scripts/gen_docs.py)", file=sys.stderr)
        return 1 if found else 0
    for path, text in rendered().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
