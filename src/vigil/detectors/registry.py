"""The built-in detectors by name, and building the enabled ones from configuration.

`DETECTORS` maps each detector name (the `[detectors.<name>]` table of `vigil.toml`) to
its class. Every class has a `Params` dataclass with `from_dict`, and a constructor
`cls(params, own=AgentIdentity)` (detectors that do not need the agent's identity take
only `params`). A detector is enabled unless its table says `enabled = false`.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from typing import Any, Mapping

from vigil.config_errors import ConfigError
from vigil.detectors.base import Detector
from vigil.detectors.beacon import BeaconDetector
from vigil.detectors.bpf_program import BpfProgramDetector
from vigil.detectors.crypto_mining import CryptoMiningDetector
from vigil.detectors.data_exfil import DataExfilDetector
from vigil.detectors.deleted_exe import DeletedExeDetector
from vigil.detectors.dns_direct import DnsDirectDetector
from vigil.detectors.dns_tunnel import DnsTunnelDetector
from vigil.detectors.download_exec import DownloadExecDetector
from vigil.detectors.fileless_exec import FilelessExecDetector
from vigil.detectors.kernel_module import KernelModuleDetector
from vigil.detectors.masquerade import MasqueradeDetector
from vigil.detectors.network_scan import NetworkScanDetector
from vigil.detectors.pipe_to_interpreter import PipeToInterpreterDetector
from vigil.detectors.privilege_escalation import PrivilegeEscalationDetector
from vigil.detectors.process_identity import AgentIdentity
from vigil.detectors.process_memory import ProcessMemoryDetector
from vigil.detectors.ptrace import PtraceDetector
from vigil.detectors.ransomware import RansomwareDetector
from vigil.detectors.recon_burst import ReconBurstDetector
from vigil.detectors.reverse_shell import ReverseShellDetector
from vigil.detectors.sensitive_write import SensitiveWriteDetector
from vigil.detectors.sensor_health import EventFloodDetector, EventsLostDetector
from vigil.detectors.service_tamper import ServiceTamperDetector
from vigil.detectors.stolen_ssh_key import StolenSshKeyDetector
from vigil.detectors.suid_binary import SuidBinaryDetector
from vigil.detectors.timestomp import TimestompDetector
from vigil.detectors.tunnel_relay import TunnelRelayDetector
from vigil.detectors.webshell import WebshellDetector

_log = logging.getLogger(__name__)


def _optional(module: str, attr: str) -> dict[str, type]:
    """A detector written in a module that may not exist yet (built by another stream)."""
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        _log.debug("detector %s.%s not available: %s", module, attr, exc)
        return {}
    return {cls.name: cls}


#: detector name -> class
DETECTORS: dict[str, type] = {
    **_optional("vigil.detectors.ssh_bruteforce", "SshBruteforceDetector"),
    **{cls.name: cls for cls in (
        DataExfilDetector, SensitiveWriteDetector, ServiceTamperDetector, WebshellDetector,
        ReverseShellDetector, PrivilegeEscalationDetector, PtraceDetector, SuidBinaryDetector,
        FilelessExecDetector, KernelModuleDetector, DnsDirectDetector, DnsTunnelDetector,
        DownloadExecDetector, CryptoMiningDetector, NetworkScanDetector, BpfProgramDetector,
        ProcessMemoryDetector, PipeToInterpreterDetector, BeaconDetector, TunnelRelayDetector,
        StolenSshKeyDetector, EventFloodDetector, EventsLostDetector)},
    # defense evasion, impact and discovery (issue 12)
    **{cls.name: cls for cls in (
        MasqueradeDetector, DeletedExeDetector, TimestompDetector, RansomwareDetector,
        ReconBurstDetector)},
}


def _construct(cls: type, params: Any, own: AgentIdentity) -> Detector:
    if "own" in inspect.signature(cls).parameters:
        return cls(params, own=own)
    return cls(params)


def build_detectors(configs: Mapping[str, Mapping[str, Any]] | None, own_pid: int | None,
                    own_uid: int | None) -> list[Detector]:
    """Instances of every enabled detector, configured from `[detectors.<name>]` tables.

    `configs` maps detector names to their (possibly empty) tables; detectors it does not
    name run with defaults. An unknown detector name or a bad value raises `ConfigError`.
    """
    configs = configs or {}
    unknown = sorted(set(configs) - set(DETECTORS))
    if unknown:
        raise ConfigError(f"detectors.{unknown[0]}",
                          f"unknown detector (known: {', '.join(sorted(DETECTORS))})")
    own = AgentIdentity(pid=own_pid, uid=own_uid)
    out: list[Detector] = []
    for name, cls in DETECTORS.items():
        params = cls.Params.from_dict(dict(configs.get(name) or {}))
        if getattr(params, "enabled", True):
            out.append(_construct(cls, params, own))
    return out
