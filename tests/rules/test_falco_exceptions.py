"""Falco `exceptions` evaluated on events (issue 14 item 14): every form of exception —
several fields with their comparisons, one field with `in`, a list referenced by name,
values appended later (`append: true` and `override: exceptions: append`) — keeps the
events it names from matching, and only those. Then once on the live kernel: a real
process reading a real file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from vigil.events.model import Event, FdInfo, Process
from vigil.rules.falco.engine import FalcoEngine
from vigil.rules.falco.loader import load_rules

RULES = """
- list: trusted_shells
  items: [zsh, fish]

- rule: Read below etc
  desc: a test rule with every form of exception
  condition: evt.type in (open, openat) and fd.name startswith /etc/
  output: "%proc.name read %fd.name as %user.name"
  priority: WARNING
  exceptions:
    - name: program_and_path
      fields: [proc.name, fd.name]
      comps: [=, startswith]
      values:
        - [backupd, /etc/ssl/]
        - [backupd, /etc/ssh/]
    - name: service_users
      fields: user.name
      comps: in
      values: [nagios, prometheus]
    - name: shells
      fields: [proc.name]
      comps: [in]
      values:
        - [trusted_shells]
    - name: exact_file
      fields: [proc.exepath, fd.name]
      values:
        - [/usr/bin/cat, /etc/hostname]

- rule: Read below etc
  exceptions:
    - name: program_and_path
      values:
        - [certbot, /etc/letsencrypt/]
  append: true

- rule: Read below etc
  exceptions:
    - name: service_users
      values: [zabbix]
  override:
    exceptions: append
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> FalcoEngine:
    f = tmp_path_factory.mktemp("rules") / "exceptions.yaml"
    f.write_text(RULES)
    rs = load_rules([f])
    assert rs.ok and not rs.errors, [str(e) for e in rs.errors]
    return FalcoEngine(rs, rule_matching="all")


def opened(path: str, name: str, user: str = "alice",
           exepath: str | None = None) -> Event:
    return Event(type="openat", ts=1, res=3, args={"flags": 0},
                 proc=Process(pid=42, name=name, exepath=exepath or f"/usr/bin/{name}",
                              user=user, uid=1000),
                 fd=FdInfo(num=3, type="file", name=path))


@pytest.mark.parametrize("event,matches", [
    # no exception applies
    (opened("/etc/shadow", "python3"), True),
    (opened("/etc/ssl/private/key.pem", "python3"), True),
    # fields [proc.name, fd.name] with [=, startswith]: both must hold
    (opened("/etc/ssl/private/key.pem", "backupd"), False),
    (opened("/etc/ssh/sshd_config", "backupd"), False),
    (opened("/etc/shadow", "backupd"), True),
    (opened("/etc/ssl/x", "backupd2"), True),
    # a value pair appended with `append: true`
    (opened("/etc/letsencrypt/live/site/privkey.pem", "certbot"), False),
    (opened("/etc/shadow", "certbot"), True),
    # one field with `in`, and a value appended with `override: exceptions: append`
    (opened("/etc/shadow", "python3", user="nagios"), False),
    (opened("/etc/shadow", "python3", user="zabbix"), False),
    (opened("/etc/shadow", "python3", user="nagios2"), True),
    # a list referenced by name
    (opened("/etc/passwd", "fish"), False),
    (opened("/etc/passwd", "bash"), True),
    # comps omitted: `=` for every field
    (opened("/etc/hostname", "cat"), False),
    (opened("/etc/hostname", "cat", exepath="/tmp/cat"), True),
    (opened("/etc/hostname.bak", "cat"), True),
], ids=lambda v: v if isinstance(v, bool) else f"{v.proc.name}:{v.fd.name}:{v.proc.user}")
def test_exceptions_keep_only_the_named_events_from_matching(engine: FalcoEngine, event: Event,
                                                             matches: bool) -> None:
    names = [d.name for d in engine.on_event(event)]
    assert names == (["Read below etc"] if matches else [])


def test_a_list_named_in_exception_values_is_expanded(engine: FalcoEngine) -> None:
    """Falco expands a list named in an exception's values (`[trusted_shells]`), as in
    a condition; the list is then in use (no "not referred to" warning)."""
    assert engine.on_event(opened("/etc/passwd", "zsh")) == []
    assert engine.on_event(opened("/etc/passwd", "trusted_shells")) != []
    assert not [w for w in engine.ruleset.warnings if "trusted_shells" in str(w)]


@pytest.mark.bpf
def test_exceptions_on_events_from_the_live_kernel(engine: FalcoEngine, tmp_path: Path) -> None:
    """The same rule on what the kernel reports for two real programs reading a real file
    below /etc: `cat` reading /etc/hostname is the exact exception, a Python reading it
    is not."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ebpf"))
    from ebpf_harness import LiveCapture
    from needs import BPF_REASON, BPF_SKIP

    if BPF_REASON is not None:
        pytest.skip(f"{BPF_SKIP}{BPF_REASON}")
    from vigil.sensors.ebpf.sensor import EbpfSensor

    sensor = EbpfSensor(event_types={"openat", "execve"})
    sensor.start()
    try:
        live = LiveCapture(sensor)

        def reads_hostname(e: Event) -> bool:
            return (e.type == "openat" and e.proc.pid == live.pid and e.fd is not None
                    and e.fd.name == "/etc/hostname")

        cat = [e for e in live.run(["/usr/bin/cat", "/etc/hostname"], reads_hostname)
               if reads_hostname(e)]
        assert cat and cat[0].proc.exepath == "/usr/bin/cat"
        assert [d for e in cat for d in engine.on_event(e)] == []
        py = [e for e in live.python("open('/etc/hostname').read()", reads_hostname)
              if reads_hostname(e)]
        assert py and [d.name for e in py for d in engine.on_event(e)] == ["Read below etc"]
    finally:
        sensor.stop()
