"""Who a process is judged as: the binary, never argv words; cached per distinct binary,
so the answers must follow every string they depend on."""

from __future__ import annotations

from vigil.detectors.process_identity import AgentIdentity, binary_names, is_shell
from vigil.events.model import Process


def _p(exepath: str | None, *args: str, name: str | None = None, pid: int = 10,
       parent: Process | None = None) -> Process:
    return Process(pid=pid, exepath=exepath, exe=exepath, args=list(args),
                   name=name or (exepath or "?").rsplit("/", 1)[-1], parent=parent)


def test_a_binary_is_judged_by_its_file_not_its_arguments() -> None:
    assert binary_names(_p("/usr/bin/cc", "-o", "curl", "x.c")) == {"cc"}
    # the same name from a world-writable place is not that tool
    assert binary_names(_p("/tmp/cc", "x.c")) == frozenset()
    assert binary_names(_p("/usr/bin/cc", "x.c")) == {"cc"}  # asked again: still cc


def test_an_interpreter_counts_as_the_installed_script_it_runs() -> None:
    certbot = _p("/usr/bin/python3.11", "/usr/bin/certbot", "renew", name="certbot")
    assert binary_names(certbot) == {"python3.11", "certbot"}
    # the same interpreter with another script, or one outside system directories
    other = _p("/usr/bin/python3.11", "/usr/bin/unattended-upgrade", name="unattended-upgr")
    assert binary_names(other) == {"python3.11", "unattended-upgrade", "unattended-upgr"}
    assert binary_names(_p("/usr/bin/python3.11", "/home/u/certbot", name="certbot")) == {
        "python3.11"}
    assert binary_names(_p("/usr/bin/python3.11", "-c", "print(1)")) == {"python3.11"}


def test_shells_and_the_agents_own_descendants() -> None:
    agent = _p("/usr/bin/python3", "-m", "vigil", pid=100)
    sh = _p("/bin/sh", "-c", "journalctl -f", pid=101, parent=agent)
    child = _p("/usr/bin/journalctl", "-f", pid=102, parent=sh)
    assert is_shell(sh) and not is_shell(child)
    own = AgentIdentity(pid=100)
    assert own.owns(agent) and own.owns(child)
    assert not own.owns(_p("/usr/bin/journalctl", pid=103, parent=_p("/bin/bash", pid=99)))
    # ancestry is followed 16 levels up, no further
    deep = agent
    for i in range(17):
        deep = _p("/bin/sh", pid=200 + i, parent=deep)
    assert not own.owns(deep)
    assert own.owns(deep.parent)  # type: ignore[arg-type]
