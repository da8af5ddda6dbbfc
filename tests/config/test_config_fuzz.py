"""Property: any TOML document either loads or fails with a located ConfigError — never
another exception (bad input must not crash the agent)."""

from __future__ import annotations

from pathlib import Path

import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.config import parse_config
from vigil.config_errors import ConfigError

KNOWN = {
    "": ["state_dir", "hostname"],
    "sensors": ["ebpf"], "sensors.authlog": ["enabled", "paths"],
    "rules": ["falco", "sigma", "min_priority", "disabled"],
    "detectors.data_exfil": ["enabled", "window_secs"],
    "allowlist": ["processes", "users", "ips", "cidrs", "ports"],
    "allowlist.detectors.webshell": ["skip_binaries", "skip_paths", "skip_services"],
    "allowlist.rules": ["suppress"],
    "baseline": ["enabled", "learn_hours"], "audit": ["max_bytes", "rotate_daily"],
    "metrics": ["enabled", "listen"], "alerts": ["batch_window_secs", "queue_size"],
}
scalars = (st.integers(-2**40, 2**40) | st.booleans() | st.floats(allow_nan=False)
           | st.sampled_from(["", "builtin", "warning", "10.0.0.1", "10.0.0.0/8", "/etc/x",
                              "127.0.0.1:9101", "50MiB", "*", "x"])
           | st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["value", "reason", "x"]), inner,
                                        max_size=2), max_leaves=6)
settings_ = st.lists(st.tuples(st.sampled_from(sorted(KNOWN)), st.integers(0, 5), values),
                     max_size=6)


def document(entries: list) -> str:
    doc: dict = {}
    for table, k, value in entries:
        keys = KNOWN[table]
        name = keys[k] if k < len(keys) else "unknown_key"
        node = doc
        for part in filter(None, table.split(".")):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                return ""
        node[name] = value
    return tomlkit.dumps(doc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(settings_)
def test_any_document_loads_or_fails_with_a_config_error(tmp_path_factory, entries) -> None:
    text = document(entries)
    path: Path = tmp_path_factory.mktemp("cfg") / "vigil.toml"
    try:
        parse_config(text, path)
    except ConfigError as exc:
        assert exc.path == str(path)
        if exc.key:
            assert exc.line is not None, (str(exc), text)
