"""Unit tests for salt_ext.core.config: parse (defaults, typed forms, errors naming the key)
and salt_lookup."""

import types

import pytest

from salt_ext.core.config import Option, parse, salt_config, salt_lookup
from salt_ext.core.errors import ConfigError, VitalsError

SPEC = {
    "host": Option("str", "127.0.0.1"),
    "port": Option("int", 2003, minimum=1),
    "timeout": Option("float", 5.0, minimum=0.05),
    "spool": Option("bool", True),
    "hosts": Option("list", []),
    "headers": Option("dict", {}),
    "mode": Option("str", "text", choices=("text", "pickle")),
    "password": Option("str", None, secret=True),
}

DEFAULTS = {
    "host": "127.0.0.1",
    "port": 2003,
    "timeout": 5.0,
    "spool": True,
    "hosts": [],
    "headers": {},
    "mode": "text",
    "password": None,
}

SECRET = "s3cr3t-Pa55"


def _one(kind, value, **option):
    """Parse a single option ``x`` of ``kind``; return its value."""
    return parse("p", {"x": value}, {"x": Option(kind, None, **option)})["x"]


def _error(kind, value, **option):
    with pytest.raises(ConfigError) as info:
        _one(kind, value, **option)
    return info.value


# -- defaults ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, {}])
def test_defaults_filled(raw):
    assert parse("carbon", raw, SPEC) == DEFAULTS


def test_none_value_means_default_and_given_values_win():
    out = parse("carbon", {"host": "g.example", "port": None, "spool": False}, SPEC)
    assert out == {**DEFAULTS, "host": "g.example", "spool": False}


def test_defaults_are_copies():
    first = parse("carbon", None, SPEC)
    first["hosts"].append("a")
    first["headers"]["x"] = "y"
    assert SPEC["hosts"].default == [] and SPEC["headers"].default == {}
    assert parse("carbon", None, SPEC) == DEFAULTS


def test_raw_must_be_a_dict():
    with pytest.raises(ConfigError) as info:
        parse("carbon", ["host"], SPEC)
    assert info.value.key == "carbon"
    assert str(info.value) == "carbon: must be a dict, got list"
    assert isinstance(info.value, VitalsError)


# -- accepted forms per kind --------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected", [("x", "x"), ("", ""), (5, "5"), (2.5, "2.5"), (" a b ", " a b ")]
)
def test_str_forms(value, expected):
    assert _one("str", value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        (True, True),
        (False, False),
        *[(text, True) for text in ("true", "yes", "on", "1", "TRUE", " Yes ", "On")],
        *[(text, False) for text in ("false", "no", "off", "0", "", "FALSE", " No ")],
    ],
)
def test_bool_forms(value, expected):
    assert _one("bool", value) is expected


@pytest.mark.parametrize(
    "value, expected",
    [(5, 5), ("5", 5), (" 5 ", 5), ("-3", -3), (5.0, 5), ("0", 0), (2**40, 2**40)],
)
def test_int_forms(value, expected):
    result = _one("int", value)
    assert result == expected and type(result) is int


@pytest.mark.parametrize(
    "value, expected",
    [(1, 1.0), ("2.5", 2.5), ("1e-3", 0.001), (" 3 ", 3.0), (2.5, 2.5), ("-0.5", -0.5)],
)
def test_float_forms(value, expected):
    result = _one("float", value)
    assert result == expected and type(result) is float


@pytest.mark.parametrize(
    "value, expected",
    [
        ("a, b,,c ", ["a", "b", "c"]),
        ("a", ["a"]),
        ("", []),
        (" , ", []),
        (["a", 1], ["a", "1"]),
        (("a:2003", "b"), ["a:2003", "b"]),
        ([], []),
    ],
)
def test_list_forms(value, expected):
    assert _one("list", value) == expected


def test_dict_form_stringifies():
    assert _one("dict", {"a": 1, 2: "b"}) == {"a": "1", "2": "b"}


@pytest.mark.parametrize(
    "kind, value, expected_text",
    [
        ("str", True, "a string"),
        ("str", ["a"], "a string"),
        ("str", {"a": 1}, "a string"),
        ("bool", "maybe", "true or false"),
        ("bool", "2", "true or false"),
        ("bool", 1.0, "true or false"),
        ("bool", [], "true or false"),
        ("int", "5.5", "an integer"),
        ("int", 5.5, "an integer"),
        ("int", "1e3", "an integer"),
        ("int", "abc", "an integer"),
        ("int", "", "an integer"),
        ("int", True, "an integer"),
        ("int", float("nan"), "an integer"),
        ("int", float("inf"), "an integer"),
        ("int", [1], "an integer"),
        ("float", "nan", "a number"),
        ("float", "inf", "a number"),
        ("float", "-inf", "a number"),
        ("float", float("nan"), "a number"),
        ("float", "1e999", "a number"),
        ("float", False, "a number"),
        ("float", "abc", "a number"),
        ("float", {}, "a number"),
        ("list", 5, "a list of strings (or one comma-separated string)"),
        ("list", {"a": 1}, "a list of strings (or one comma-separated string)"),
        ("list", ["a", None], "a list of strings (or one comma-separated string)"),
        ("list", [["a"]], "a list of strings (or one comma-separated string)"),
        ("dict", "a=b", "a dict"),
        ("dict", ["a"], "a dict"),
    ],
)
def test_wrong_type_names_key_and_value(kind, value, expected_text):
    exc = _error(kind, value)
    assert exc.key == "p:x"
    assert str(exc) == f"p:x: expected {expected_text}, got {value!r}"


@pytest.mark.parametrize("value", ["9" * 400, 10**400], ids=["str", "int"])
def test_huge_int_is_a_config_error(value):
    assert _error("int", value).key == "p:x"


# -- errors name prefix:key ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"port": "http"}, "carbon:port"),
        ({"timeout": "soon"}, "carbon:timeout"),
        ({"spool": "perhaps"}, "carbon:spool"),
        ({"hosts": 3}, "carbon:hosts"),
        ({"headers": "x"}, "carbon:headers"),
        ({"mode": "udp"}, "carbon:mode"),
        ({"port": 0}, "carbon:port"),
    ],
)
def test_errors_name_prefix_and_key(raw, key):
    with pytest.raises(ConfigError) as info:
        parse("carbon", raw, SPEC)
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: ")


def test_first_bad_value_in_spec_order_is_reported():
    with pytest.raises(ConfigError) as info:
        parse("carbon", {"mode": "udp", "port": "x"}, SPEC)
    assert info.value.key == "carbon:port"


def test_unknown_key_rejected_and_known_keys_listed():
    with pytest.raises(ConfigError) as info:
        parse("carbon", {"hots": "x", "zzz": 1, "host": "ok"}, SPEC)
    assert info.value.key == "carbon:hots"
    assert str(info.value) == (
        "carbon:hots: unknown option (known: headers, host, hosts, mode, password, port, "
        "spool, timeout)"
    )


def test_unknown_non_string_key_rejected():
    with pytest.raises(ConfigError) as info:
        parse("carbon", {1: "x"}, SPEC)
    assert info.value.key == "carbon:1"


def test_unknown_keys_allowed_and_dropped():
    out = parse("carbon", {"hots": "x", "port": "2004"}, SPEC, allow_unknown=True)
    assert out == {**DEFAULTS, "port": 2004}


# -- choices and minimum ------------------------------------------------------------------------


def test_choices():
    assert parse("carbon", {"mode": "pickle"}, SPEC)["mode"] == "pickle"
    with pytest.raises(ConfigError) as info:
        parse("carbon", {"mode": "udp"}, SPEC)
    assert str(info.value) == "carbon:mode: must be one of text, pickle, got 'udp'"


def test_choices_apply_after_conversion():
    assert _one("int", "2", choices=(1, 2)) == 2
    assert str(_error("int", "3", choices=(1, 2))) == "p:x: must be one of 1, 2, got '3'"


@pytest.mark.parametrize(
    "kind, value, minimum, ok",
    [
        ("int", 1, 1, True),
        ("int", "0", 1, False),
        ("int", -5, 0, False),
        ("float", "0.05", 0.05, True),
        ("float", 0.01, 0.05, False),
        ("float", "-1", 0, False),
    ],
)
def test_minimum(kind, value, minimum, ok):
    if ok:
        assert _one(kind, value, minimum=minimum) == float(value)
    else:
        assert str(_error(kind, value, minimum=minimum)) == (
            f"p:x: must be at least {minimum}, got {value!r}"
        )


# -- secrets --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, value, option",
    [
        ("str", [SECRET], {}),
        ("str", {"password": SECRET}, {}),
        ("int", SECRET, {}),
        ("bool", SECRET, {}),
        ("float", SECRET, {}),
        ("list", {SECRET: 1}, {}),
        ("dict", SECRET, {}),
        ("str", SECRET, {"choices": ("a", "b")}),
        ("str", SECRET, {"choices": ("a", "b"), "minimum": None}),
    ],
)
def test_secret_values_never_in_messages(kind, value, option):
    exc = _error(kind, value, secret=True, **option)
    assert SECRET not in str(exc) and SECRET not in repr(exc.args)
    assert "<hidden>" in str(exc)
    assert exc.key == "p:x"


def test_secret_below_minimum_is_hidden():
    exc = _error("int", "-424242", secret=True, minimum=0)
    assert str(exc) == "p:x: must be at least 0, got <hidden>"


def test_secret_value_is_returned_unchanged():
    assert parse("influxdb", {"password": SECRET}, SPEC)["password"] == SECRET


def test_non_secret_value_is_shown():
    assert "'perhaps'" in str(_error("bool", "perhaps"))


# --- salt_lookup: Salt's config.get / config.option read from the loader's mappings ----------


class _Loader:
    def __init__(self, pack):
        self.pack = pack


def get(key, default="", **_):
    raise AssertionError("the raw config.get is never called here")


class FakeGet:
    """Shaped like Salt's loaded ``config.get`` (or ``config.option``: ``name``) with
    ``.loader.pack`` and ``.func`` whose module globals hold ``DEFAULTS``; calling it is a call
    through the loader, recorded."""

    def __init__(self, pack, defaults=None, name="get"):
        self.loader = _Loader(pack)
        self.func = types.FunctionType(get.__code__, {"DEFAULTS": defaults or {}}, name)
        self.calls = []

    def __call__(self, key, default=""):
        self.calls.append(key)
        return f"salt's {key}"


PACK = {
    "__opts__": {"vitals": {"groups": ["cpu"]}, "id": "m1"},
    "__grains__": {"vitals": {"groups": ["mem"]}, "os": "Debian"},
    "__pillar__": {"from_pillar": {"a": 1}, "master": {"from_master": 2}},
}


def test_config_get_reads_opts_grains_pillar_master_defaults_in_order():
    fake = FakeGet(PACK, {"from_defaults": 3, "id": "never"})
    lookup = salt_lookup(fake)
    assert lookup("vitals", {}) == {"groups": ["cpu"]}
    assert lookup("os") == "Debian"
    assert lookup("from_pillar", {}) == {"a": 1}
    assert lookup("from_master") == 2
    assert lookup("from_defaults") == 3
    assert lookup("id") == "m1"
    assert lookup("missing", {}) == {} and lookup("missing") == ""
    assert fake.calls == []


def test_sources_are_read_in_config_options_order():
    pack = {
        "__opts__": {"carbon.a": "opts"},
        "__grains__": {"carbon.a": "grains", "carbon.b": "grains"},
        "__pillar__": {"carbon.b": "pillar", "carbon.c": "pillar", "master": {"carbon.d": "m"}},
    }
    fake = FakeGet(pack, {"carbon.c": "default", "carbon.e": "default"}, name="option")
    lookup = salt_lookup(fake)
    found = [lookup(f"carbon.{k}") for k in "abcdef"]
    assert found == ["opts", "grains", "pillar", "m", "default", ""]
    assert lookup("carbon", {}) == {}
    assert fake.calls == []


def test_context_bound_or_odd_sources_fall_back_to_calling_salt():
    from salt.loader.context import LoaderContext, NamedLoaderContext

    bound = NamedLoaderContext("__pillar__", LoaderContext())
    for pack in (
        {"__opts__": {}, "__grains__": {}, "__pillar__": bound},
        {"__opts__": {}, "__grains__": {}, "__pillar__": {"master": "salt.example.com"}},
        {"__opts__": {}, "__grains__": None, "__pillar__": {}},
    ):
        option = FakeGet(pack, name="option")
        assert salt_lookup(option) is option


def test_config_get_leaves_nested_keys_and_sdb_values_to_salt():
    pack = {**PACK, "__opts__": {"vitals": "sdb://secrets/vitals", "a": {"b": 1}}}
    fake = FakeGet(pack)
    lookup = salt_lookup(fake)
    assert lookup("vitals", {}) == "salt's vitals"
    assert lookup("a:b") == "salt's a:b"
    assert fake.calls == ["vitals", "a:b"]


def test_other_functions_and_stand_ins_are_called_as_they_are():
    def option(key, default=""):
        return default

    assert salt_lookup(option) is option
    fake = FakeGet(PACK)
    fake.func = types.FunctionType(get.__code__, {}, "merge")
    assert salt_lookup(fake) is fake


class FakeFunctions:
    """Shaped like Salt's loader of execution modules: ``pack`` and ``_dict`` (the loaded
    functions); indexing it would make a loaded-function wrapper."""

    def __init__(self, pack, functions):
        self.pack = pack
        self._dict = functions

    def __getitem__(self, key):
        raise AssertionError(f"made a loaded function for {key}")

    def get(self, key, default=None):
        raise AssertionError(f"made a loaded function for {key}")


def test_salt_config_reads_a_loaded_function_s_mappings_without_wrapping_it():
    raw = types.FunctionType(get.__code__, {"DEFAULTS": {"from_defaults": 3}}, "get")
    lookup = salt_config(FakeFunctions(PACK, {"config.get": raw}), "config.get")
    assert lookup("vitals", {}) == {"groups": ["cpu"]} and lookup("from_defaults") == 3


def test_salt_config_falls_back_to_the_function_or_none():
    def option(key, default=""):
        return f"stand-in {key}"

    assert salt_config({"config.option": option}, "config.option") is option
    assert salt_config({}, "config.option") is None
    fake = FakeGet(PACK)
    functions = FakeFunctions(PACK, {})  # config.get not loaded yet: Salt's loader loads it
    functions.get = lambda key, default=None: fake if key == "config.get" else default
    lookup = salt_config(functions, "config.get")
    assert lookup("vitals", {}) == {"groups": ["cpu"]} and fake.calls == []
