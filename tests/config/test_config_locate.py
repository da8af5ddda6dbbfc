"""Locating dotted keys in TOML text (for error positions)."""

from vigil.config_locate import key_positions, locate_key, parse_key

TEXT = '''\
# comment with key = "value"
state_dir = "/x"

[sensors.authlog]
paths = [
  "/a",   # first
  "/b",
]

[allowlist]
ports = [22, { value = 99999, reason = "x" }]
notes = """
fake = "not a key"
"""
"dotted.name" = 1

[[alerts.routes]]
sink = "a"

[[alerts.routes]]
sink = "b"
min_priority = "loud"
'''


def test_parse_key_splits_names_and_indices() -> None:
    assert parse_key("alerts.routes[1].min_priority") == ("alerts", "routes", 1, "min_priority")


def test_positions_of_keys_tables_and_array_elements() -> None:
    found = key_positions(TEXT)
    assert found[("state_dir",)] == (2, 1)
    assert found[("sensors", "authlog")] == (4, 1)
    assert found[("sensors", "authlog", "paths", 1)] == (7, 3)
    assert found[("allowlist", "ports", 1, "value")] == (11, 16)
    assert found[("allowlist", "dotted.name")] == (15, 1)


def test_multiline_string_contents_are_not_keys() -> None:
    assert ("allowlist", "fake") not in key_positions(TEXT)
    assert ("fake",) not in key_positions(TEXT)


def test_arrays_of_tables_are_indexed() -> None:
    assert locate_key(TEXT, "alerts.routes[1].min_priority") == (22, 1)
    assert locate_key(TEXT, "alerts.routes[0].sink") == (18, 1)


def test_unwritten_key_falls_back_to_nearest_written_ancestor() -> None:
    assert locate_key(TEXT, "sensors.authlog.enabled") == (4, 1)
    assert locate_key(TEXT, "metrics.listen") is None
