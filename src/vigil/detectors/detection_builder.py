"""Building the `Detection` a built-in detector returns, in one consistent shape.

Every built-in detection names the detector, a `rule_id` of `<detector>.<subkind>`, the
entity (user, process, pid, plus the IP or path it concerns) and its evidence events. A
detection that a static allowlist covers is still built and returned, with a
`Suppression(layer="static")`, so it reaches the audit trail.
"""

from __future__ import annotations

from typing import Any, Sequence

from vigil.detections import Detection, Entity, Suppression
from vigil.events.model import Event
from vigil.priority import Priority
from vigil.detectors.process_identity import display_name


#: the behaviour a person reads as an incident's title, by `<detector>.<subkind>` (or by
#: detector, for every sub-kind); a detector's own `data["title"]` wins
TITLES: dict[str, str] = {
    "beacon": "C2 beacon: periodic calls to one host with encoded data",
    "crypto_mining.miner_exec": "Cryptocurrency miner started",
    "crypto_mining.pool_port": "Connection to a cryptocurrency mining pool",
    "crypto_mining.stratum": "Cryptocurrency miner: stratum mining protocol to a pool",
    "data_exfil.read_then_connect": "Credential exfiltration: sensitive file read, then sent out",
    "data_exfil.archive_pipe": "Data exfiltration: archive piped to the network",
    "deleted_exe": "Running program's executable deleted (fileless hiding)",
    "dns_direct": "DNS query to an unusual resolver",
    "download_exec": "Downloaded file executed (dropper)",
    "dns_tunnel.encoded_labels": "DNS tunnel: encoded data in query names",
    "dns_tunnel.query_rate": "DNS tunnel: flood of names under one domain",
    "dns_tunnel.dga": "DGA-like domain names looked up",
    "fileless_exec": "Fileless execution from memory",
    "kernel_module": "Kernel module load",
    "bpf_program": "BPF program loaded into the kernel",
    "process_memory.credential_dump": "Credential dumping: memory of an authentication process read",
    "process_memory.inject": "Process injection: another process's memory written",
    "process_memory.read": "Another process's memory read",
    "masquerade.kernel_thread": "Process masquerading as a kernel thread",
    "masquerade.daemon": "Process masquerading as a system daemon",
    "network_scan": "Network port scan",
    "pipe_to_interpreter.download": "Download piped into a shell or interpreter",
    "pipe_to_interpreter.decode": "Decoded data piped into a shell or interpreter",
    "pipe_to_interpreter.encoded_inline": "Encoded code decoded and run by an interpreter",
    "privilege_escalation": "Privilege escalation to root",
    "ptrace.inject": "Process injection with ptrace",
    "ptrace.attach": "Debugger attached to another process (ptrace)",
    "ptrace.credential_dump": "Credential dumping: ptrace attach to an authentication process",
    "ptrace.injected_exec": "Process injection with ptrace: injected code started a program",
    "ransomware": "Ransomware-like mass encryption: files rewritten, originals deleted",
    "recon_burst": "Reconnaissance burst: many discovery commands",
    "reverse_shell": "Reverse shell",
    "sensitive_write.accounts": "Account database modified (new or changed account)",
    "sensitive_write.sudoers": "Sudoers modified",
    "sensitive_write.sshd_config": "SSH server configuration modified",
    "sensitive_write.authorized_keys": "SSH authorized_keys modified (persistence)",
    "sensitive_write.pam": "PAM configuration modified",
    "sensitive_write.at_jobs": "At job scheduled (persistence)",
    "sensitive_write.cron": "Cron job written (persistence)",
    "sensitive_write.systemd_units": "Systemd unit written (persistence)",
    "sensitive_write.init_scripts": "Init script or rc.local written (boot persistence)",
    "sensitive_write.udev_rules": "Udev rule written (persistence)",
    "sensitive_write.ld_preload": "Dynamic linker preload configured",
    "sensitive_write.shell_profiles": "Shell start-up file modified (persistence)",
    "sensitive_write.tls_keys": "TLS private key modified",
    "sensitive_write": "Sensitive file modified",
    "service_tamper.history_clear": "Shell history cleared",
    "service_tamper.log_clear": "Log file cleared",
    "service_tamper.agent_kill": "Security agent killed",
    "service_tamper.security_off": "Security mechanism switched off",
    "service_tamper.tool_kill": "Security tool killed",
    "service_tamper.audit_socket": "Kernel audit control socket opened by unexpected program",
    "service_tamper.log_tamper": "Log file deleted or replaced (log tampering)",
    "service_tamper": "Security service stopped or tampered with",
    "stolen_ssh_key": "SSH login with another account's private key (stolen key)",
    "suid_binary.file_caps": "File capabilities set on a program (setcap)",
    "suid_binary": "Set-uid/set-gid bit set on a file",
    "timestomp": "File timestamp backdated (timestomping)",
    "tunnel_relay": "Tunnel: outbound connection relayed to a local service",
    "webshell": "Web shell: a server spawned a shell",
}


def title_for(detector: str, subkind: str) -> str:
    """The incident title of a built-in detection (see `TITLES`)."""
    return TITLES.get(f"{detector}.{subkind}") or TITLES.get(detector) or detector


def static_suppression(detector: str, allowlist: str, value: object, reason: str) -> Suppression:
    """The record of a static (in-code) allowlist match: `<detector>.<list>=<value>`."""
    return Suppression(layer="static", entry=f"{detector}.{allowlist}={value}", reason=reason)


def describe_process(event: Event) -> str:
    """`curl (pid 42, user alice)` — how outputs name the acting process."""
    p = event.proc
    who = f"user {p.user}" if p.user else (f"uid {p.uid}" if p.uid is not None else "")
    inner = ", ".join(x for x in (f"pid {p.pid}" if p.pid is not None else "", who) if x)
    name = display_name(p)
    return f"{name} ({inner})" if inner else name


def build_detection(detector: str, subkind: str, priority: Priority, output: str,
                    tags: Sequence[str], event: Event, *,
                    evidence: Sequence[Event] | None = None, ip: str | None = None,
                    path: str | None = None, data: dict[str, Any] | None = None,
                    suppressed: Suppression | None = None) -> Detection:
    """A detection about `event` (the triggering one) and its process."""
    p = event.proc
    entity = Entity(ip=ip, user=p.user, process=display_name(p), pid=p.pid, path=path)
    fields: dict[str, Any] = {"proc.name": p.name, "proc.exepath": p.exepath,
                              "proc.cmdline": p.cmdline(), "proc.pid": p.pid,
                              "user.name": p.user, "user.uid": p.uid, "evt.type": event.type}
    return Detection(
        kind="detector", name=detector, rule_id=f"{detector}.{subkind}", priority=priority,
        output=output, ts=event.ts, tags=list(tags), entity=entity,
        output_fields={k: v for k, v in fields.items() if v is not None},
        evidence=list(evidence) if evidence is not None else [event],
        data={"title": title_for(detector, subkind), **(data or {})},
        source=event.source, hostname=event.hostname,
        suppressed=suppressed)
