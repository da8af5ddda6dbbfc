"""Real kernel: exec chains and ancestry, ptrace, fileless (memfd) execution, fork and exit."""

from __future__ import annotations

import sys

from ebpf_harness import live, only, requires_bpf  # noqa: F401  (fixture)

from vigil.events.fields import DEFAULT_FIELDS
from vigil.events.proctable import cgroup2_mount

pytestmark = requires_bpf


def field(name: str, event, arg: str | None = None):
    return DEFAULT_FIELDS.extractor(name, arg)(event)


def test_exec_chain_bash_sh_true_has_ancestry_argv_and_cwd(live, tmp_path):
    # the trailing `:` keeps each shell from exec'ing its last command in place
    events = live.run(["bash", "-c", "sh -c '/bin/true vigil-arg; :'; :"], cwd=tmp_path,
                      until=lambda e: e.type == "execve" and e.proc.exepath == "/usr/bin/true")
    ev = only(events, lambda e: e.type == "execve" and e.proc.exepath == "/usr/bin/true")
    assert ev.res == 0
    assert ev.proc.name == "true"
    assert ev.proc.exe == "/bin/true"
    assert ev.proc.args == ["vigil-arg"]
    assert ev.proc.args_truncated is False
    assert ev.proc.cwd == str(tmp_path)
    assert field("proc.cmdline", ev) == "true vigil-arg"
    assert field("proc.pname", ev) == "sh"
    assert field("proc.pcmdline", ev) == "sh -c /bin/true vigil-arg; :"
    assert field("proc.aname", ev, "2") == "bash"
    assert field("proc.aname", ev, "3") in ("python", "python3", "pytest") or \
        field("proc.aname", ev, "3").startswith("python")
    assert ev.proc.ppid == ev.proc.parent.pid
    assert ev.proc.parent.ppid == ev.proc.parent.parent.pid
    # the fork that made the process and its exit are seen too
    assert any(e.type in ("fork", "vfork", "clone", "clone3") and e.res == ev.proc.pid
               for e in events)
    assert any(e.type == "procexit" and e.proc.pid == ev.proc.pid for e in events)
    assert ev.proc.start_ts is not None and ev.proc.start_ts <= ev.ts


def test_long_argv_is_truncated_with_flag(live):
    args = ["x" * 1000] * 6
    events = live.run(["/bin/true", *args],
                      until=lambda e: e.type == "execve" and e.proc.exepath == "/usr/bin/true")
    ev = only(events, lambda e: e.type == "execve" and e.proc.exepath == "/usr/bin/true")
    assert ev.proc.args_truncated is True
    assert field("proc.args_truncated", ev) is True
    assert ev.proc.args[0] == "x" * 1000


PTRACE_CHILD = r"""
import ctypes, os, signal, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
pid = os.fork()
if pid == 0:
    time.sleep(5)
    os._exit(0)
rc = libc.ptrace(16, pid, None, None)  # PTRACE_ATTACH
os.waitpid(pid, 0)
libc.ptrace(17, pid, None, None)       # PTRACE_DETACH
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
print(pid, rc)
"""


def test_ptrace_attach_to_a_child(live):
    events = live.python(PTRACE_CHILD,
                         until=lambda e: e.type == "ptrace" and e.args.get("request") == 16)
    ev = only(events, lambda e: e.type == "ptrace" and e.args.get("request") == 16)
    assert ev.res == 0
    assert field("evt.arg", ev, "request") == "PTRACE_ATTACH"
    child = ev.args["pid"]
    assert any(e.type == "clone" and e.res == child and e.proc.pid == ev.proc.pid for e in events)
    assert any(e.type == "kill" and e.args["pid"] == child and e.args["sig"] == 9 for e in events)


MEMFD_EXEC = r"""
import os
fd = os.memfd_create("vigil-test", 0)
with open("/bin/true", "rb") as f:
    os.write(fd, f.read())
os.execve(fd, ["fileless", "run"], {})
"""


def test_memfd_exec_is_fileless(live):
    events = live.python(MEMFD_EXEC,
                         until=lambda e: e.type in ("execve", "execveat") and e.proc.exe_from_memfd)
    mk = only(events, lambda e: e.type == "memfd_create")
    assert mk.args["name"] == "vigil-test" and mk.res >= 0
    assert mk.fd.type == "memfd"
    ev = only(events, lambda e: e.type in ("execve", "execveat") and e.proc.exe_from_memfd)
    assert ev.res == 0
    assert ev.proc.exepath == "memfd:vigil-test"
    assert ev.proc.args == ["run"] and ev.proc.exe == "fileless"
    assert ev.proc.pid == mk.proc.pid
    # the fields the stable Falco rule "Fileless execution via memfd_create" reads
    assert field("evt.type", ev) in ("execve", "execveat")
    assert field("proc.is_exe_from_memfd", ev) is True
    assert field("proc.pname", ev) not in ("runc",)
    assert field("proc.exepath", ev) != "memfd:runc_cloned:/proc/self/exe"


def test_setuid_family_is_captured(live):
    code = "import os; os.setgid(65534); os.setuid(65534)"
    events = live.python(code, until=lambda e: e.type == "setuid")
    su = only(events, lambda e: e.type == "setuid")
    assert su.args["uid"] == 65534 and su.res == 0
    sg = only(events, lambda e: e.type == "setgid")
    assert sg.args["gid"] == 65534
    # after setuid the process' credentials change for the following events
    after = [e for e in events if e.proc.pid == su.proc.pid and e.ts > su.ts]
    assert all(e.proc.uid == 65534 for e in after)
    assert sys.executable


JOIN_CGROUP = r"""
import os, sys
with open(os.path.join(sys.argv[1], "cgroup.procs"), "w") as fh:
    fh.write(str(os.getpid()))
os.close(os.open("/etc/hostname", os.O_RDONLY))
"""


def test_container_id_from_a_docker_style_cgroup(live):
    import os
    import pytest
    root = cgroup2_mount()
    if root is None:
        pytest.skip("no cgroup v2 hierarchy mounted (/proc/mounts has no cgroup2 line)")
    cid = "c0ffee" + "0" * 52 + "123456"
    # the child has exited when its events are decoded: the id is found from the cgroup
    # tree, not from /proc/<pid>/cgroup
    cg = os.path.join(root, f"docker-{cid}.scope")
    os.mkdir(cg)
    try:
        events = live.run([sys.executable, "-c", JOIN_CGROUP, cg],
                          until=lambda e: e.type == "openat" and e.proc.pid == live.pid
                          and e.args.get("name") == "/etc/hostname")
    finally:
        os.rmdir(cg)
    ev = only(events, lambda e: e.type == "openat" and e.proc.pid == live.pid
              and e.args.get("name") == "/etc/hostname")
    assert ev.proc.container_id == cid[:12]
    assert field("container.id", ev) == cid[:12]
    before = [e for e in events if e.proc.pid == live.pid and e.ts < ev.ts
              and e.type == "execve"]
    assert before and before[-1].proc.container_id == "host"
