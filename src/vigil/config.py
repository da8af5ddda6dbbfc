"""`vigil.toml`: the one typed schema of Vigil's configuration, and the one place that reads it.

`load_config(path)` returns a `VigilConfig` (frozen dataclasses); other packages receive
these typed objects and never read the file themselves. Every problem is a
`ConfigError` naming the file, line, column and dotted key:

- a TOML syntax error carries the position `tomllib` reports;
- a validation error (wrong type, bad value, unknown key) is located in the file text by
  `vigil.config_locate`.

Unknown keys are errors, not ignored. Sections owned by other packages are validated by
them: `[detectors.<name>]` through `vigil.detectors.registry.DETECTORS[name].Params`,
`[alerts]` through `vigil.alerts.config.AlertsConfig`; while those modules do not exist
the raw tables are kept. Every key is documented in docs/config.md.
"""

from __future__ import annotations

import importlib
import ipaddress
import re
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from vigil.config_errors import ConfigError
from vigil.config_locate import locate_key
from vigil.config_reader import TableReader, join_key
from vigil.incidents.correlator import IncidentSettings
from vigil.niceness import DEFAULT_NICE
from vigil.priority import Priority
from vigil.suppress.allowlist import Allowlist

DEFAULT_STATE_DIR = Path("/var/lib/vigil")
#: where `vigil` looks for its configuration when no path is given
DEFAULT_CONFIG_PATH = Path("/etc/vigil/vigil.toml")
#: in `[rules] falco`, the name of Vigil's own default rules file
BUILTIN_RULES = "builtin"
BUILTIN_RULES_FILE = Path(__file__).parent / "defaults" / "vigil_rules.yaml"
DEFAULT_AUTH_LOGS = ("/var/log/auth.log", "/var/log/secure")
#: the dynamic loader's and libc's reads at every program start (shared libraries, the
#: loader cache, locales and time zones) and a compiler's header reads: the bulk of the
#: opens on a busy host, and no rule needs them
DEFAULT_IGNORED_READS = ("/usr/lib/", "/lib/", "/usr/lib64/", "/lib64/", "/etc/ld.so.cache",
                         "/usr/share/locale/", "/usr/share/zoneinfo/", "/usr/include/")
DEFAULT_AUDIT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_AUDIT_KEEP_DAYS = 90.0
DEFAULT_AUDIT_MAX_TOTAL = 2 * 1024 ** 3
DEFAULT_METRICS_LISTEN = "127.0.0.1:9101"

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]i?B?|B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "B": 1, "K": 1000, "KB": 1000, "KIB": 1024, "KI": 1024,
               "M": 1000**2, "MB": 1000**2, "MIB": 1024**2, "MI": 1024**2,
               "G": 1000**3, "GB": 1000**3, "GIB": 1024**3, "GI": 1024**3}


# ---------------------------------------------------------------- sections

#: `[sensors] bpf_object`: which of the eBPF sensor's two programs to load
BPF_OBJECTS = ("auto", "full", "compat")

#: `enabled` of the auth sensors: chosen at start (`vigil.sensors.auth_select`)
AUTO = "auto"


@dataclass(frozen=True)
class AuthLogConfig:
    """`[sensors.authlog]`: follow the first of `paths` that exists.

    `enabled`: True (forced on), False (off) or "auto" (on when one of `paths` exists, or
    when the journal cannot be read either)."""

    enabled: bool | str = AUTO
    paths: tuple[str, ...] = DEFAULT_AUTH_LOGS


@dataclass(frozen=True)
class JournaldConfig:
    """`[sensors.journald]`: read sshd, sudo and su from the systemd journal.

    `enabled`: True (forced on), False (off) or "auto" (on when no auth log file exists
    and `journalctl` can read a journal)."""

    enabled: bool | str = AUTO


@dataclass(frozen=True)
class SensorsConfig:
    """`[sensors]`."""

    ebpf: bool = True
    #: read-only opens under these prefixes are dropped in the kernel (shared libraries
    #: and data the dynamic loader reads for every program start); `[]` keeps them all
    ignore_read_prefixes: tuple[str, ...] = DEFAULT_IGNORED_READS
    #: read-only opens that failed with ENOENT (path searches) are dropped in the kernel
    ignore_missing_reads: bool = True
    #: execve/execveat that failed with ENOENT (path searches) are dropped in the kernel
    ignore_missing_execs: bool = True
    #: traffic to these ports carries its DNS question (`dns.*` fields); empty: none
    dns_ports: tuple[int, ...] = (53,)
    #: which BPF object the eBPF sensor loads: "auto" (the full one, else the compat one),
    #: "full" or "compat" (the environment variable VIGIL_BPF_OBJECT overrides it)
    bpf_object: str = "auto"
    #: records per second of one process and syscall past which the kernel folds the rest
    #: of the second into one `flood` event (0: no flood control)
    flood_limit: int = 2000
    #: at most one `events_lost` event (and "Events lost" detection) per this many seconds
    lost_interval: float = 10.0
    #: read-only opens no loaded rule or detector can need stay in the kernel
    #: (vigil.rules.kernel_filters; applied only when every one of them is reducible)
    rule_filters: bool = True
    authlog: AuthLogConfig = field(default_factory=AuthLogConfig)
    journald: JournaldConfig = field(default_factory=JournaldConfig)


def _rule_files(entries: tuple[str, ...], patterns: tuple[str, ...], recursive: bool) -> list[Path]:
    out: list[Path] = []
    for entry in entries:
        if entry == BUILTIN_RULES:
            out.append(BUILTIN_RULES_FILE)
            continue
        path = Path(entry)
        if path.is_dir():
            found = {p for pat in patterns
                     for p in (path.rglob(pat) if recursive else path.glob(pat)) if p.is_file()}
            out.extend(sorted(found))
        else:
            out.append(path)
    return out


@dataclass(frozen=True)
class RulesConfig:
    """`[rules]`: which Falco and Sigma rule files to load, and which rules to leave out."""

    #: files and directories, in load order; "builtin" is Vigil's own default rules
    falco: tuple[str, ...] = (BUILTIN_RULES,)
    sigma: tuple[str, ...] = ()
    #: rules below this priority are not loaded (Falco's `priority` setting)
    min_priority: Priority = Priority.DEBUG
    #: Falco rule names / Sigma ids or titles that are not loaded at all (nothing audited)
    disabled: tuple[str, ...] = ()
    #: `[rules.sigma_fields.<logsource>]`: Sigma field -> registry field, overriding or
    #: extending the built-in mapping (validated; see docs/sigma.md)
    sigma_fields: Any = None
    #: `[rules.sigma_logsources.<name>]`: custom logsources (sources, event_types)
    sigma_logsources: Any = None
    #: `[rules.sigma_auditd]`: the audit rules Sigma auditd rules assume (`AuditdSettings`)
    sigma_auditd: Any = None
    #: `[rules.hosts]`: domain name -> addresses, for `fd.sip.name = <name>` checks
    hosts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: resolve the domain names of conditions with the system resolver (in the background)
    resolve_names: bool = True
    #: rules in shadow mode: Falco rule names, Sigma ids or titles, or rule files and
    #: directories (every rule loaded from them), as `AllowEntry`s with a reason
    shadow: tuple[Any, ...] = ()
    #: where `vigil tune --apply` writes Falco exceptions (list it in `falco` too)
    local_rules_dir: Path | None = None

    def name_table(self, live: bool) -> Any:
        """The `NameTable` of these settings; system resolution only when `live`."""
        from vigil.rules.names import NameTable
        return NameTable(dict(self.hosts), resolve=live and self.resolve_names)

    def sigma_mapping(self) -> Any:
        """The Sigma field mapping with this configuration's overrides."""
        from vigil.rules.sigma.mapping import SigmaFieldMapping
        return self.sigma_fields or SigmaFieldMapping.default()

    def sigma_router(self) -> Any:
        """The Sigma logsource router with this configuration's custom logsources."""
        from vigil.rules.sigma.logsource import LogsourceRouter
        from vigil.rules.sigma.auditd import AuditdSettings
        return LogsourceRouter(custom=dict(self.sigma_logsources or {}),
                               auditd=self.sigma_auditd or AuditdSettings())

    def falco_files(self) -> list[Path]:
        """The Falco rule files in load order: listed files as they come, each directory's
        `*.yaml`/`*.yml` sorted by name at the place the directory is listed."""
        return _rule_files(self.falco, ("*.yaml", "*.yml"), recursive=False)

    def sigma_files(self) -> list[Path]:
        """The Sigma rule files: listed files, and `*.yml`/`*.yaml` under each directory
        (recursively, as Sigma repositories nest them), sorted."""
        return _rule_files(self.sigma, ("*.yml", "*.yaml"), recursive=True)


@dataclass(frozen=True)
class DetectorConfig:
    """`[detectors.<name>]`: whether a built-in detector runs, and its parameters."""

    name: str
    enabled: bool = True
    #: the detector's validated `Params` object; None when the registry is not available
    #: (then the detector uses its defaults)
    params: Any = None
    #: the table as written (with `enabled`), for `vigil.detectors.registry.build_detectors`
    raw: dict[str, Any] = field(default_factory=dict)
    #: "alert", or "shadow": its detections are audited and make (shadow) incidents, but
    #: no alert leaves
    mode: str = "alert"


DETECTOR_MODES = ("alert", "shadow")


@dataclass(frozen=True)
class BaselineConfig:
    """`[baseline]`: learn what this host normally triggers, then suppress it."""

    enabled: bool = False
    learn_hours: float = 24.0
    path: Path = DEFAULT_STATE_DIR / "baseline.sqlite"


@dataclass(frozen=True)
class AuditConfig:
    """`[audit]`: the append-only audit trail (JSONL, hash-chained)."""

    path: Path = DEFAULT_STATE_DIR / "audit"
    max_bytes: int = DEFAULT_AUDIT_MAX_BYTES
    rotate_daily: bool = True
    #: the key that seals the trail's head (`vigil.audit.seal`); None: beside the trail,
    #: `<path>.key`
    key_path: Path | None = None
    #: rotated files whose last record is older than this are pruned (0: kept forever)
    keep_days: float = DEFAULT_AUDIT_KEEP_DAYS
    #: the oldest rotated files are pruned while the trail is larger (0: no limit)
    max_total_bytes: int = DEFAULT_AUDIT_MAX_TOTAL


@dataclass(frozen=True)
class MetricsConfig:
    """`[metrics]`: a Prometheus endpoint, off unless enabled."""

    enabled: bool = False
    listen: str = DEFAULT_METRICS_LISTEN

    @property
    def host(self) -> str:
        """The address part of `listen` (without IPv6 brackets)."""
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        """The port part of `listen`."""
        return int(self.listen.rsplit(":", 1)[1])


@dataclass(frozen=True)
class VigilConfig:
    """The whole of `vigil.toml`, validated. `load_config(None)` gives the defaults."""

    #: the file this came from; None for the built-in defaults
    source: Path | None = None
    state_dir: Path = DEFAULT_STATE_DIR
    hostname: str = field(default_factory=socket.gethostname)
    #: CPU niceness of `vigil run` (`vigil.niceness`)
    nice: int = DEFAULT_NICE
    sensors: SensorsConfig = field(default_factory=SensorsConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    #: configured detectors, plus (once the registry exists) every known one with defaults
    detectors: dict[str, DetectorConfig] = field(default_factory=dict)
    allowlist: Allowlist = field(default_factory=Allowlist)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    #: `[incidents]`: how detections are correlated into incidents
    incidents: IncidentSettings = field(default_factory=IncidentSettings)
    #: `vigil.alerts.config.AlertsConfig`, or the raw `[alerts]` table until that exists
    alerts: Any = None

    def detector(self, name: str) -> DetectorConfig:
        """The configuration of detector `name` (enabled with default params if unset)."""
        return self.detectors.get(name) or DetectorConfig(name=name)

    def detector_tables(self) -> dict[str, dict[str, Any]]:
        """`[detectors.<name>]` tables as written, by name (what `build_detectors` takes)."""
        return {name: dict(d.raw) for name, d in self.detectors.items()}


# ---------------------------------------------------------------- optional owners

def _optional_attr(module: str, attr: str) -> Any:
    """`module.attr`, or None while the module (owned by another package) does not exist.
    Errors inside an existing module are not hidden."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            return None
        raise
    return getattr(mod, attr, None)


def _detector_registry() -> Mapping[str, type] | None:
    return _optional_attr("vigil.detectors.registry", "DETECTORS")


def _within(key: str, call: Callable[[], Any]) -> Any:
    """Run another package's validator; make its error keys full dotted keys."""
    try:
        return call()
    except ConfigError as exc:
        sub = exc.key or ""
        full = sub if sub == key or sub.startswith(key + ".") or sub.startswith(key + "[") \
            else join_key(key, sub) if sub else key
        raise ConfigError(full, exc.message) from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(key, str(exc)) from exc


# ---------------------------------------------------------------- section readers

def _path(table: TableReader, name: str, default: Path, base: Path | None) -> Path:
    text = table.get_opt_str(name)
    if text is None:
        return default
    if not text.strip():
        raise table.error(name, "must not be empty")
    path = Path(text).expanduser()
    return path if path.is_absolute() or base is None else base / path


def _paths(table: TableReader, name: str, default: tuple[str, ...], base: Path | None,
           *, must_exist: bool, special: tuple[str, ...] = ()) -> tuple[str, ...]:
    values = table.get_str_list(name, default)
    out: list[str] = []
    for i, text in enumerate(values):
        if text in special:
            out.append(text)
            continue
        path = Path(text).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        if must_exist and not path.exists():
            raise ConfigError(join_key(table.key_of(name), i), f"{str(path)!r} does not exist")
        out.append(str(path))
    return tuple(out)


def _size(table: TableReader, name: str, default: int) -> int:
    raw = table.raw(name, default)
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and (m := _SIZE.match(raw)):
        value = int(m.group(1)) * _SIZE_UNITS[(m.group(2) or "").upper()]
    else:
        raise table.error(name, f"must be a size in bytes (an integer, or a string like "
                                f"\"50MiB\"), not {raw!r}")
    if value < 4096:
        raise table.error(name, f"must be at least 4096 bytes, not {value}")
    return value


def _on_off_auto(table: TableReader, name: str) -> bool | str:
    """true, false or "auto" (the default)."""
    value = table.raw(name, AUTO)
    if isinstance(value, bool) or value == AUTO:
        return value
    raise table.error(name, f'must be true, false or "auto", not {value!r}')


def _read_sensors(top: TableReader) -> SensorsConfig:
    t = top.table("sensors")
    a = t.table("authlog")
    authlog = AuthLogConfig(enabled=_on_off_auto(a, "enabled"),
                            paths=a.get_str_list("paths", DEFAULT_AUTH_LOGS))
    if authlog.enabled is not False and not authlog.paths:
        raise a.error("paths", "must list at least one file unless the sensor is off")
    a.finish()
    j = t.table("journald")
    journald = JournaldConfig(enabled=_on_off_auto(j, "enabled"))
    j.finish()
    ignored = t.get_str_list("ignore_read_prefixes", DEFAULT_IGNORED_READS)
    if len(ignored) > 16 or any(not p.startswith("/") or len(p.encode()) > 64 for p in ignored):
        raise t.error("ignore_read_prefixes", "at most 16 absolute path prefixes of at most "
                                              "64 bytes each")
    dns_ports = t.get_int_list("dns_ports", (53,), minimum=1, maximum=65535)
    if len(dns_ports) > 8:
        raise t.error("dns_ports", f"at most 8 ports, not {len(dns_ports)}")
    bpf_object = t.get_str("bpf_object", "auto")
    if bpf_object not in BPF_OBJECTS:
        raise t.error("bpf_object", f"must be one of {', '.join(BPF_OBJECTS)}, not "
                                    f"{bpf_object!r}")
    out = SensorsConfig(ebpf=t.get_bool("ebpf", True), ignore_read_prefixes=ignored,
                        bpf_object=bpf_object,
                        flood_limit=t.get_int("flood_limit", 2000, minimum=0),
                        lost_interval=t.get_float("lost_interval", 10.0, minimum=0.0),
                        rule_filters=t.get_bool("rule_filters", True),
                        ignore_missing_reads=t.get_bool("ignore_missing_reads", True),
                        ignore_missing_execs=t.get_bool("ignore_missing_execs", True),
                        dns_ports=dns_ports, authlog=authlog, journald=journald)
    t.finish()
    return out


def _read_rules(top: TableReader, base: Path | None) -> RulesConfig:
    t = top.table("rules")
    level = t.get_str("min_priority", Priority.DEBUG.label)
    try:
        min_priority = Priority.parse(level)
    except ValueError as exc:
        raise t.error("min_priority", str(exc)) from None
    fields_raw = t.raw("sigma_fields", {})
    sources_raw = t.raw("sigma_logsources", {})
    sigma_fields = sigma_sources = None
    if fields_raw:
        from vigil.rules.sigma.mapping import SigmaFieldMapping
        if not isinstance(fields_raw, dict):
            raise t.error("sigma_fields", "expected a table of logsource tables")
        sigma_fields = SigmaFieldMapping.default().with_overrides(fields_raw)
    if sources_raw:
        from vigil.rules.sigma.logsource import CustomLogsource
        if not isinstance(sources_raw, dict):
            raise t.error("sigma_logsources", "expected a table of logsource tables")
        sigma_sources = {}
        for name, table in sources_raw.items():
            if not isinstance(table, dict):
                raise t.error(f"sigma_logsources.{name}", "expected a table")
            sigma_sources[name] = CustomLogsource.from_dict(name, table)
    auditd_raw = t.raw("sigma_auditd", {})
    sigma_auditd = None
    if auditd_raw:
        from vigil.rules.sigma.auditd import AuditdSettings
        if not isinstance(auditd_raw, dict):
            raise t.error("sigma_auditd", "expected a table (assume, audit_rules)")
        sigma_auditd = AuditdSettings.from_dict(auditd_raw)
    hosts_raw = t.raw("hosts", {})
    if not isinstance(hosts_raw, dict):
        raise t.error("hosts", "expected a table of name = [\"address\", ...]")
    hosts = []
    for host, addrs in hosts_raw.items():
        key = f"rules.hosts.{host}"
        if isinstance(addrs, str):
            addrs = [addrs]
        if not isinstance(addrs, list) or not all(isinstance(a, str) for a in addrs):
            raise ConfigError(key, "expected a list of IP addresses")
        for a in addrs:
            try:
                ipaddress.ip_address(a)
            except ValueError:
                raise ConfigError(key, f"{a!r} is not an IP address") from None
        hosts.append((host, tuple(addrs)))
    from vigil.suppress.allowlist import read_entries
    shadow = read_entries(t, "shadow")
    local_dir = t.get_opt_str("local_rules_dir")
    local_rules_dir = None
    if local_dir is not None:
        if not local_dir.strip():
            raise t.error("local_rules_dir", "must not be empty")
        local_rules_dir = Path(local_dir).expanduser()
        if not local_rules_dir.is_absolute() and base is not None:
            local_rules_dir = base / local_rules_dir
    out = RulesConfig(
        hosts=tuple(hosts), resolve_names=t.get_bool("resolve_names", True), shadow=shadow,
        local_rules_dir=local_rules_dir,
        falco=_paths(t, "falco", (BUILTIN_RULES,), base, must_exist=True, special=(BUILTIN_RULES,)),
        sigma=_paths(t, "sigma", (), base, must_exist=True),
        min_priority=min_priority,
        disabled=t.get_str_list("disabled"),
        sigma_fields=sigma_fields, sigma_logsources=sigma_sources, sigma_auditd=sigma_auditd)
    t.finish()
    return out


def _read_detectors(top: TableReader,
                    registry: Mapping[str, type] | None) -> dict[str, DetectorConfig]:
    t = top.table("detectors")
    out: dict[str, DetectorConfig] = {}
    for name, sub in t.sub_tables():
        if registry is not None and name not in registry:
            raise ConfigError(sub.key, f"unknown detector {name!r} (known: "
                                       f"{', '.join(sorted(registry))})")
        enabled = sub.get_bool("enabled", True)
        mode = sub.get_str("mode", "alert")
        if mode not in DETECTOR_MODES:
            raise sub.error("mode", f"must be one of {', '.join(DETECTOR_MODES)}, not {mode!r}")
        # the whole table, `enabled` included: each detector's Params declares it too;
        # `mode` is the pipeline's business, not the detector's
        raw = {k: v for k, v in sub.data.items() if k != "mode"}
        params = None
        params_type = getattr(registry[name], "Params", None) if registry is not None else None
        if params_type is not None:
            params = _within(sub.key, lambda: params_type.from_dict(raw))
        # the detector's own Params validates these (not checked while no registry exists)
        for k in raw:
            sub.raw(k)
        sub.finish()
        out[name] = DetectorConfig(name=name, enabled=enabled, params=params, raw=raw,
                                   mode=mode)
    for name, cls in (registry or {}).items():
        if name not in out:
            params_type = getattr(cls, "Params", None)
            params = _within(join_key("detectors", name),
                             lambda: params_type.from_dict({})) if params_type else None
            out[name] = DetectorConfig(name=name, params=params)
    return out


def _read_baseline(top: TableReader, state_dir: Path, base: Path | None) -> BaselineConfig:
    t = top.table("baseline")
    out = BaselineConfig(enabled=t.get_bool("enabled", False),
                         learn_hours=t.get_float("learn_hours", 24.0, minimum=0.0),
                         path=_path(t, "path", state_dir / "baseline.sqlite", base))
    t.finish()
    return out


def _non_negative(t: TableReader, name: str, default: float) -> float:
    value = t.get_float(name, default)
    if value < 0:
        raise t.error(name, f"must be 0 or more, not {value:g}")
    return value


def _read_audit(top: TableReader, state_dir: Path, base: Path | None) -> AuditConfig:
    t = top.table("audit")
    key = t.get_opt_str("key_path")
    out = AuditConfig(path=_path(t, "path", state_dir / "audit", base),
                      max_bytes=_size(t, "max_bytes", DEFAULT_AUDIT_MAX_BYTES),
                      rotate_daily=t.get_bool("rotate_daily", True),
                      key_path=_path(t, "key_path", Path(), base) if key is not None else None,
                      keep_days=_non_negative(t, "keep_days", DEFAULT_AUDIT_KEEP_DAYS),
                      max_total_bytes=(0 if t.raw("max_total_bytes", None) == 0
                                       else _size(t, "max_total_bytes",
                                                  DEFAULT_AUDIT_MAX_TOTAL)))
    t.finish()
    return out


def _read_metrics(top: TableReader) -> MetricsConfig:
    t = top.table("metrics")
    listen = t.get_str("listen", DEFAULT_METRICS_LISTEN)
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise t.error("listen", f"must be \"host:port\" (e.g. {DEFAULT_METRICS_LISTEN!r}), "
                                f"not {listen!r}")
    out = MetricsConfig(enabled=t.get_bool("enabled", False), listen=listen)
    t.finish()
    return out


def _read_incidents(top: TableReader) -> IncidentSettings:
    t = top.table("incidents")
    d = IncidentSettings()
    out = IncidentSettings(
        idle_close_secs=t.get_float("idle_close_secs", d.idle_close_secs, minimum=1.0),
        max_duration_secs=t.get_float("max_duration_secs", d.max_duration_secs, minimum=1.0),
        max_open=t.get_int("max_open", d.max_open, minimum=1),
        target_window_secs=t.get_float("target_window_secs", d.target_window_secs,
                                       minimum=0.0),
        max_groups=t.get_int("max_groups", d.max_groups, minimum=1),
        max_processes=t.get_int("max_processes", d.max_processes, minimum=1),
        max_entities=t.get_int("max_entities", d.max_entities, minimum=1),
        max_activity=t.get_int("max_activity", d.max_activity, minimum=1))
    if out.max_duration_secs < out.idle_close_secs:
        raise t.error("max_duration_secs", f"must be at least idle_close_secs "
                                           f"({out.idle_close_secs:g})")
    t.finish()
    return out


def _read_alerts(top: TableReader) -> Any:
    raw = top.table("alerts").data
    top.raw("alerts")
    alerts_config = _optional_attr("vigil.alerts.config", "AlertsConfig")
    if alerts_config is None:
        return dict(raw)
    return _within("alerts", lambda: alerts_config.from_dict(dict(raw)))


def config_from_dict(data: dict[str, Any], base_dir: Path | None = None,
                     source: Path | None = None,
                     detector_registry: Mapping[str, type] | None = None) -> VigilConfig:
    """Validate already-parsed TOML data. Relative paths are taken from `base_dir`.
    `detector_registry` defaults to `vigil.detectors.registry.DETECTORS` (when it exists).
    Raises `ConfigError` (without a position: `parse_config` adds it)."""
    top = TableReader(data)
    state_dir = _path(top, "state_dir", DEFAULT_STATE_DIR, base_dir)
    hostname = top.get_str("hostname", "") or socket.gethostname()
    nice = top.get_int("nice", DEFAULT_NICE, minimum=-20)
    if nice > 19:
        raise top.error("nice", f"must be between -20 and 19, got {nice}")
    registry = detector_registry if detector_registry is not None else _detector_registry()
    config = VigilConfig(
        source=source,
        state_dir=state_dir,
        hostname=hostname,
        nice=nice,
        sensors=_read_sensors(top),
        rules=_read_rules(top, base_dir),
        detectors=_read_detectors(top, registry),
        allowlist=Allowlist.from_table(top.table("allowlist"),
                                       registry.keys() if registry is not None else None),
        baseline=_read_baseline(top, state_dir, base_dir),
        audit=_read_audit(top, state_dir, base_dir),
        metrics=_read_metrics(top),
        incidents=_read_incidents(top),
        alerts=_read_alerts(top),
    )
    top.finish()
    return config


# ---------------------------------------------------------------- entry points

def parse_config(text: str, path: str | Path | None = None, *,
                 detector_registry: Mapping[str, type] | None = None) -> VigilConfig:
    """Parse and validate the text of a `vigil.toml`; errors name `path`, line and column."""
    where = str(path) if path is not None else "<config>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = _TOML_POSITION.search(message)
        line = col = None
        if m:
            line, col = int(m.group(1)), int(m.group(2))
            message = message[:m.start()]
        raise ConfigError("", f"invalid TOML: {message}", path=where, line=line, col=col) from None
    source = Path(path) if path is not None else None
    base = source.resolve().parent if source is not None else None
    try:
        return config_from_dict(data, base_dir=base, source=source,
                                detector_registry=detector_registry)
    except ConfigError as exc:
        pos = locate_key(text, exc.key) if exc.key else None
        raise ConfigError(exc.key, exc.message, path=where,
                          line=pos[0] if pos else None, col=pos[1] if pos else None) from None


def locate_error(exc: ConfigError, source: Path | None) -> ConfigError:
    """`exc` located in `source` (file, line, column of its key), for errors found after
    loading: a secret read from the environment when a sink is built."""
    if exc.path is not None or source is None:
        return exc
    try:
        text = source.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return ConfigError(exc.key, exc.message, path=str(source))
    pos = locate_key(text, exc.key) if exc.key else None
    return ConfigError(exc.key, exc.message, path=str(source),
                       line=pos[0] if pos else None, col=pos[1] if pos else None)


def load_config(path: str | Path | None) -> VigilConfig:
    """Read `vigil.toml` at `path`; None gives the defaults. Raises `ConfigError`."""
    if path is None:
        return config_from_dict({})
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError("", f"cannot read configuration: {exc.strerror or exc}",
                          path=str(path)) from None
    return decode_config(raw, path)


def decode_config(raw: bytes, path: str | Path) -> VigilConfig:
    """Parse and validate the bytes of the `vigil.toml` at `path` (for a caller that has
    read them already, e.g. to fingerprint them). Raises `ConfigError`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError("", "not valid UTF-8", path=str(path), line=line) from None
    return parse_config(text, path)
