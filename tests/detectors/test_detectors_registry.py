"""The registry: every detector by name, built from `[detectors.<name>]` tables."""

from __future__ import annotations

import dataclasses

import pytest
from detector_factories import connect, init, proc

from vigil.config_errors import ConfigError
from vigil.detectors.base import Detector
from vigil.detectors.registry import DETECTORS, build_detectors

OWN_DETECTORS = {"data_exfil", "sensitive_write", "service_tamper", "webshell", "reverse_shell",
                 "privilege_escalation", "ptrace", "suid_binary", "fileless_exec",
                 "kernel_module", "dns_direct", "crypto_mining"}


def test_every_detector_is_registered_and_enabled_by_default() -> None:
    assert OWN_DETECTORS <= set(DETECTORS)
    built = build_detectors({}, own_pid=4242, own_uid=0)
    assert {d.name for d in built} == set(DETECTORS)
    assert all(isinstance(d, Detector) and d.event_types for d in built)


def test_enabled_false_switches_a_detector_off() -> None:
    built = build_detectors({"webshell": {"enabled": False}, "ptrace": {}}, None, None)
    assert "webshell" not in {d.name for d in built} and "ptrace" in {d.name for d in built}


def test_own_identity_reaches_the_detectors() -> None:
    built = {d.name: d for d in build_detectors({"dns_direct": {"system_resolvers": []}},
                                                own_pid=4242, own_uid=0)}
    agent = proc("/usr/bin/python3", "/usr/local/bin/vigil", pid=4242, parent=init())
    assert built["dns_direct"].on_event(connect(agent, "8.8.8.8", 53)) == []
    other = proc("/opt/x", pid=77, parent=init())
    assert len(built["dns_direct"].on_event(connect(other, "8.8.8.8", 53))) == 1


def test_unknown_detector_and_bad_values_are_config_errors() -> None:
    with pytest.raises(ConfigError) as err:
        build_detectors({"webshel": {}}, None, None)
    assert err.value.key == "detectors.webshel"
    with pytest.raises(ConfigError) as err:
        build_detectors({"data_exfil": {"window_seconds": -1}}, None, None)
    assert err.value.key == "detectors.data_exfil.window_seconds"
    with pytest.raises(ConfigError) as err:
        build_detectors({"reverse_shell": {"enabled": "no"}}, None, None)
    assert err.value.key == "detectors.reverse_shell.enabled"


@pytest.mark.parametrize("name", sorted(OWN_DETECTORS))
def test_params_reject_unknown_keys_and_accept_their_defaults(name: str) -> None:
    cls = DETECTORS[name]
    defaults = cls.Params.from_dict({})
    assert defaults == cls.Params()
    with pytest.raises(ConfigError) as err:
        cls.Params.from_dict({"no_such_key": 1})
    assert err.value.key == f"detectors.{name}.no_such_key"
    # every documented field round-trips from TOML-like values
    values = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(defaults)}
    plain = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()
             if v is not None}
    assert cls.Params.from_dict(plain) == defaults
