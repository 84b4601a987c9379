"""A corpus of hostile job returns shared by the carbon and InfluxDB tests.

Each case is a job return (the ``ret`` dict a returner receives) with the number of points that
must land: every valid value lands, nothing else does, and no name can forge a line.
"""

import time
from dataclasses import dataclass

# recent enough for any test backend's retention
TS = float(int(time.time()) - 60)

HOSTILE_NAMES = {
    "newline": "a\nb",
    "forged_line": "x 1 1700000000\nforged.metric",
    "carriage_return": "a\rb",
    "tab": "a\tb",
    "space": "a b",
    "dot": "a.b",
    "comma": "a,b",
    "equals": "a=b",
    "double_quote": 'a"b',
    "single_quote": "a'b",
    "backslash": "a\\b",
    "trailing_backslash": "ab\\",
    "nul": "a\x00b",
    "unicode": "nœud-ü-中",
    "emoji": "pi-🍓",
    "long": "n" * 300,
    "slash": "a/b",
    "influx_escape_mix": 'm,t=1 f="x"\\',
    "empty": "",
    "only_spaces": "   ",
}


@dataclass
class Case:
    name: str
    ret: dict
    points: int  # how many points must land
    heavy: bool = False  # too many series for a whisper file each: serializer tests only

    @property
    def minion(self):
        return self.ret["id"]


def _vitals(minion, **groups):
    return {"id": minion, "fun": "vitals.current", "retcode": 0, "return": {"ts": TS, **groups}}


def _generic(minion, fun, data, retcode=0):
    return {"id": minion, "fun": fun, "retcode": retcode, "return": data}


def cases():
    out = []
    for label, text in HOSTILE_NAMES.items():
        # the hostile text as minion id, as a mount point, an interface and a dict key
        out.append(Case(f"minion_{label}", _vitals(text or "_", mem={"percent": 1.5}), 1))
        out.append(
            Case(
                f"mount_{label}",
                _vitals(f"m-{label}", disk={"/mnt/" + text: {"percent": 2.5, "total": 10}}),
                2,
            )
        )
        out.append(
            Case(f"iface_{label}", _vitals(f"i-{label}", net={text or "_": {"rx_errors": 3}}), 1)
        )
        out.append(
            Case(f"key_{label}", _generic(f"k-{label}", "test.metrics", {text: 4.5, "ok": 1}), 2)
        )
    deep = 5.0
    for _ in range(30):
        deep = {"d": deep}
    out += [
        Case(
            "nan_inf_bool_none",
            _generic(
                "v-1",
                "test.values",
                {
                    "nan": float("nan"),
                    "inf": float("inf"),
                    "ninf": float("-inf"),
                    "true": True,
                    "none": None,
                    "good": 6.5,
                },
            ),
            2,
        ),  # true -> 1.0, good
        Case("strings_bytes", _generic("v-2", "test.values", {"s": "12", "b": b"12", "ok": 7}), 1),
        Case(
            "huge_ints", _generic("v-3", "test.values", {"big": 2**70, "huge": 10**400, "ok": 8}), 2
        ),
        Case("deep_nesting", _generic("v-4", "test.values", {"deep": deep, "ok": 9}), 1),
        Case("list_of_dicts", _generic("v-5", "test.values", [{"a": 1}, {"a": 2}, {"b": "x"}]), 2),
        Case(
            "ten_thousand_keys",
            _generic("v-6", "test.values", {f"k{i}": i for i in range(10_000)}),
            10_000,
            heavy=True,
        ),
        Case("failed_job", _generic("v-7", "test.values", "Traceback: boom", retcode=1), 0),
        Case(
            "exception_object", _generic("v-8", "test.values", {"e": ValueError("x"), "ok": 1}), 1
        ),
        Case(
            "vitals_bad_values",
            _vitals("v-9", mem={"percent": "high", "total": float("nan"), "used": 5}),
            1,
        ),
        Case("vitals_unknown_group", _vitals("v-10", bogus={"x": 1}, load={"load1": 0.5}), 1),
    ]
    return out
