"""Loading and validating vigil.toml: defaults, every section, located errors."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest

from vigil.config import (BUILTIN_RULES_FILE, AuthLogConfig, VigilConfig, load_config,
                          parse_config)
from vigil.config_errors import ConfigError
from vigil.detectors.params import minimum, read_params
from vigil.priority import Priority

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "vigil.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


def test_defaults_without_a_file() -> None:
    cfg = load_config(None)
    assert cfg.source is None
    assert cfg.state_dir == Path("/var/lib/vigil")
    assert cfg.hostname == socket.gethostname()
    assert cfg.sensors.ebpf is True and cfg.sensors.bpf_object == "auto"
    assert cfg.sensors.authlog == AuthLogConfig("auto", ("/var/log/auth.log", "/var/log/secure"))
    assert cfg.sensors.journald.enabled == "auto"
    assert cfg.rules.falco == ("builtin",) and cfg.rules.falco_files() == [BUILTIN_RULES_FILE]
    assert cfg.rules.min_priority is Priority.DEBUG
    assert cfg.audit.path == Path("/var/lib/vigil/audit")
    assert cfg.audit.max_bytes == 50 * 1024 * 1024 and cfg.audit.rotate_daily
    assert cfg.baseline.enabled is False and cfg.baseline.learn_hours == 24.0
    assert cfg.metrics.enabled is False and cfg.metrics.port == 9101
    assert len(cfg.allowlist) == 0


def test_the_example_config_in_the_repo_is_valid() -> None:
    cfg = load_config(REPO / "vigil.example.toml")
    assert [e.value for e in cfg.allowlist.rules] == [
        "Anti-debugging with ptrace", "e7bd1cfa-b446-4c88-8afb-403bcd79e3fa"]
    assert cfg.allowlist.detectors["sensitive_write"].skip_paths[0].reason
    assert cfg.audit.max_bytes == 50 * 1024 * 1024


def test_state_dir_moves_the_derived_paths_and_relative_paths_follow_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'state_dir = "state"\nhostname = "web-01"\n'
                           '[audit]\nmax_bytes = "10MiB"\nrotate_daily = false\n')
    cfg = load_config(path)
    assert cfg.state_dir == tmp_path / "state"
    assert cfg.audit.path == tmp_path / "state" / "audit"
    assert cfg.baseline.path == tmp_path / "state" / "baseline.sqlite"
    assert cfg.audit.max_bytes == 10 * 1024 * 1024 and not cfg.audit.rotate_daily
    assert cfg.hostname == "web-01"


def test_rule_files_load_in_listed_order_with_directories_sorted(tmp_path: Path) -> None:
    rules_d = tmp_path / "rules.d"
    rules_d.mkdir()
    for name in ("b.yaml", "a.yaml", "notes.txt"):
        (rules_d / name).write_text("[]\n")
    (tmp_path / "local.yaml").write_text("[]\n")
    sigma = tmp_path / "sigma" / "linux" / "proc"
    sigma.mkdir(parents=True)
    (sigma / "r1.yml").write_text("title: x\n")
    path = write(tmp_path, '[rules]\nfalco = ["builtin", "local.yaml", "rules.d"]\n'
                           'sigma = ["sigma"]\nmin_priority = "warning"\n'
                           'disabled = ["Noisy rule"]\n')
    rules = load_config(path).rules
    assert rules.falco_files() == [BUILTIN_RULES_FILE, tmp_path / "local.yaml",
                                   rules_d / "a.yaml", rules_d / "b.yaml"]
    assert rules.sigma_files() == [sigma / "r1.yml"]
    assert rules.min_priority is Priority.WARNING
    assert rules.disabled == ("Noisy rule",)


def test_toml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    err = error_of(tmp_path, '[sensors]\nebpf = true\n[allowlist\nips = []\n')
    assert err.path == str(tmp_path / "vigil.toml")
    assert (err.line, err.col) == (3, 11)
    assert str(err).startswith(f"{tmp_path / 'vigil.toml'}:3:11: invalid TOML")


def test_wrong_type_names_key_line_and_column(tmp_path: Path) -> None:
    err = error_of(tmp_path, '[sensors]\n\n  ebpf = "yes"\n')
    assert err.key == "sensors.ebpf"
    assert (err.line, err.col) == (3, 3)
    assert "must be a boolean" in err.message


@pytest.mark.parametrize("text, key, line", [
    ('state_dri = "/x"\n', "state_dri", 1),
    ('[sensors.authlog]\nenabled = true\npath = ["/x"]\n', "sensors.authlog.path", 3),
    ('[allowlist]\nips = [{ value = "10.0.0.1", reson = "typo" }]\n', "allowlist.ips[0].reson", 2),
    ('[allowlist.detectors.webshell]\nskip_binary = ["node"]\n',
     "allowlist.detectors.webshell.skip_binary", 2),
    ('[audit]\nrotate = true\n', "audit.rotate", 2),
    ('[metrics]\nport = 9100\n', "metrics.port", 2),
    ('[baseline]\nlearn_days = 1\n', "baseline.learn_days", 2),
    ('[rules]\nfalco_rules = []\n', "rules.falco_rules", 2),
    ('[bogus]\nx = 1\n', "bogus", 1),
])
def test_unknown_keys_are_errors(tmp_path: Path, text: str, key: str, line: int) -> None:
    err = error_of(tmp_path, text)
    assert err.key == key
    assert err.line == line
    assert "unknown key" in err.message


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    err = error_of(tmp_path, '[allowlist.detectors.data_exfil]\nskip_binarys = ["cc"]\n')
    assert "did you mean 'skip_binaries'" in err.message


@pytest.mark.parametrize("text, key, fragment", [
    ('[rules]\nmin_priority = "loud"\n', "rules.min_priority", "unknown priority"),
    ('[rules]\nfalco = ["missing.yaml"]\n', "rules.falco[0]", "does not exist"),
    ('[rules]\nsigma = [3]\n', "rules.sigma[0]", "must be a string"),
    ('[audit]\nmax_bytes = "lots"\n', "audit.max_bytes", "size in bytes"),
    ('[audit]\nmax_bytes = 10\n', "audit.max_bytes", "at least 4096"),
    ('[metrics]\nlisten = "9101"\n', "metrics.listen", "host:port"),
    ('[baseline]\nlearn_hours = 0\n', "baseline.learn_hours", "greater than 0"),
    ('[sensors.authlog]\npaths = []\n', "sensors.authlog.paths", "at least one"),
    ('[sensors.authlog]\nenabled = "yes"\n', "sensors.authlog.enabled", 'true, false or "auto"'),
    ('[sensors.journald]\nenabled = 1\n', "sensors.journald.enabled", 'true, false or "auto"'),
    ('sensors = 3\n', "sensors", "must be a table"),
    ('nice = 20\n', "nice", "between -20 and 19"),
    ('nice = -21\n', "nice", "at least -20"),
    ('[sensors]\nignore_missing_reads = "yes"\n', "sensors.ignore_missing_reads",
     "must be a boolean"),
    ('[sensors]\nbpf_object = "old"\n', "sensors.bpf_object",
     "must be one of auto, full, compat"),
])
def test_invalid_values_are_errors(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    err = error_of(tmp_path, text)
    assert err.key == key
    assert fragment in err.message
    assert err.line is not None


def test_alerts_errors_come_from_the_alerts_schema_with_a_position(tmp_path: Path) -> None:
    err = error_of(tmp_path, 'hostname = "h"\n\n[alerts]\nbatch_window = 5\n')
    assert err.key == "alerts.batch_window"
    assert err.line == 4


def test_missing_file_and_bad_encoding_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'hostname = "ok"\nstate_dir = "/caf\xe9"\n')
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert info.value.line == 2 and "UTF-8" in info.value.message


# ---- detectors: validated through the registry's Params (a small real detector here,
# because the registry is owned by the detectors package and injected for this test)

@dataclasses.dataclass(frozen=True)
class _WindowParams:
    enabled: bool = True
    window_secs: float = dataclasses.field(default=60.0, metadata=minimum(0))
    threshold: int = dataclasses.field(default=5, metadata=minimum(1))

    @classmethod
    def from_dict(cls, table: dict) -> "_WindowParams":
        return read_params(cls, table, "burst")


class _BurstDetector:
    Params = _WindowParams


REGISTRY = {"burst": _BurstDetector}


def test_detector_params_are_validated_by_the_detector(tmp_path: Path) -> None:
    text = '[detectors.burst]\nenabled = false\nthreshold = 9\n'
    cfg = parse_config(text, write(tmp_path, text), detector_registry=REGISTRY)
    assert cfg.detector("burst").enabled is False
    assert cfg.detector("burst").params == _WindowParams(enabled=False, threshold=9)
    assert cfg.detector_tables() == {"burst": {"enabled": False, "threshold": 9}}


def test_every_registered_detector_gets_default_params(tmp_path: Path) -> None:
    cfg = parse_config("", tmp_path / "vigil.toml", detector_registry=REGISTRY)
    assert cfg.detector("burst").enabled is True
    assert cfg.detector("burst").params == _WindowParams()


@pytest.mark.parametrize("text, key, line", [
    ('[detectors.burst]\n\nthreshold = 0\n', "detectors.burst.threshold", 3),
    ('[detectors.burst]\nthreshhold = 3\n', "detectors.burst.threshhold", 2),
    ('[detectors.nosuch]\nenabled = true\n', "detectors.nosuch", 1),
    ('[allowlist.detectors.nosuch]\nskip_users = ["x"]\n', "allowlist.detectors.nosuch", 1),
])
def test_detector_errors_are_located(tmp_path: Path, text: str, key: str, line: int) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, write(tmp_path, text), detector_registry=REGISTRY)
    assert info.value.key == key
    assert info.value.line == line


def test_config_is_immutable() -> None:
    cfg: VigilConfig = load_config(None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.state_dir = Path("/elsewhere")  # type: ignore[misc]


def test_the_real_detector_registry_validates_detector_tables(tmp_path: Path) -> None:
    from vigil.detectors.registry import DETECTORS, build_detectors

    err = error_of(tmp_path, '[detectors.data_exfill]\nenabled = false\n')
    assert err.key == "detectors.data_exfill" and "unknown detector" in err.message
    cfg = load_config(write(tmp_path, '[detectors.data_exfil]\nenabled = false\n'))
    assert set(cfg.detectors) == set(DETECTORS)
    assert cfg.detector("data_exfil").enabled is False
    assert cfg.detector("data_exfil").params.enabled is False
    built = {d.name for d in build_detectors(cfg.detector_tables(), own_pid=1, own_uid=0)}
    assert "data_exfil" not in built and "webshell" in built


def test_rules_hosts_table_and_bad_addresses(tmp_path: Path) -> None:
    from vigil.config_errors import ConfigError
    cfg = load_config(write(tmp_path, '[rules]\nresolve_names = false\n'
                                      '[rules.hosts]\n"api.internal" = ["10.0.0.7", "fd00::7"]\n'))
    table = cfg.rules.name_table(live=True)
    assert table.addresses("API.internal") == frozenset({"10.0.0.7", "fd00::7"})
    assert table.resolve is False
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, '[rules.hosts]\napiserver = ["not-an-ip"]\n'))
    assert exc.value.key == "rules.hosts.apiserver" and exc.value.line == 2
