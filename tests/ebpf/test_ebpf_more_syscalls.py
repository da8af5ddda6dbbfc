"""Real kernel: the less common syscalls decode with their Falco argument names."""

from __future__ import annotations

import socket

from ebpf_harness import live, only, requires_bpf  # noqa: F401  (fixture)

from vigil.events.fields import DEFAULT_FIELDS

pytestmark = requires_bpf


def field(name: str, event, arg: str | None = None):
    return DEFAULT_FIELDS.extractor(name, arg)(event)


FILES = r"""
import os, sys
d = sys.argv[1]
os.chdir(d)
os.mkdir("sub")
open("target", "w").close()
os.symlink("target", "soft")
os.link("target", "hard")
os.close(os.open("sub/../target", os.O_RDONLY))
os.rmdir("sub")
"""


def test_links_dirs_and_chdir_tracking(live, tmp_path):
    d = str(tmp_path)
    import sys
    events = live.run([sys.executable, "-c", FILES, d],
                      until=lambda e: e.type in ("rmdir", "unlinkat") and e.proc.pid == live.pid)
    mine = [e for e in events if e.proc.pid == live.pid]
    mk = only(mine, lambda e: e.type in ("mkdir", "mkdirat"))
    assert mk.args["path"] == f"{d}/sub" and mk.res == 0
    sym = only(mine, lambda e: e.type in ("symlink", "symlinkat"))
    assert sym.args["target"] == "target" and sym.args["linkpath"] == f"{d}/soft"
    assert field("evt.arg", sym, "linkpath") == f"{d}/soft"
    hard = only(mine, lambda e: e.type in ("link", "linkat"))
    assert hard.args["oldpath"] == f"{d}/target" and hard.args["newpath"] == f"{d}/hard"
    # the process' cwd follows chdir, so a relative open is made absolute and normalized
    op = only(mine, lambda e: e.type == "openat" and e.fd.nameraw == "sub/../target")
    assert op.fd.name == f"{d}/target" and op.proc.cwd == d
    assert only(mine, lambda e: e.type == "chdir").args["path"] == d


NET = r"""
import os, socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendmsg([b"\0" * 12], [], 0, ("127.0.0.1", 53))
x = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
x.connect(sys.argv[1])
"""


def test_sendmsg_dns_and_unix_connect(live, tmp_path):
    import sys
    path = str(tmp_path / "s.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    events = live.run([sys.executable, "-c", NET, path],
                      until=lambda e: e.type == "connect" and e.proc.pid == live.pid)
    mine = [e for e in events if e.proc.pid == live.pid]
    sm = only(mine, lambda e: e.type == "sendmsg")
    assert sm.fd.rport == 53 and sm.fd.rip == "127.0.0.1" and sm.fd.l4proto == "udp"
    assert sm.fd.name_changed is True
    uc = only(mine, lambda e: e.type == "connect")
    assert uc.fd.type == "unix" and uc.fd.name == path and uc.res == 0
    assert field("fd.sockfamily", uc) == "unix"
    srv.close()


KERNEL = r"""
import ctypes, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall(313, -1, b"vigil-args", 0)          # finit_module(-1): fails
libc.syscall(321, 9999, None, 0)                  # bpf(9999): EINVAL, dropped in the kernel
libc.syscall(321, 5, None, 0)                     # bpf(BPF_PROG_LOAD, NULL): refused
os.makedirs(sys.argv[1], exist_ok=True)
libc.mount(b"none", sys.argv[1].encode(), b"tmpfs", 0, None)
libc.umount2(sys.argv[1].encode(), 0)
os.kill(os.getpid(), 0)
"""


def test_module_bpf_mount_and_kill(live, tmp_path):
    import sys
    mnt = str(tmp_path / "mnt")
    events = live.run([sys.executable, "-c", KERNEL, mnt],
                      until=lambda e: e.type == "kill" and e.proc.pid == live.pid)
    mine = [e for e in events if e.proc.pid == live.pid]
    fm = only(mine, lambda e: e.type == "finit_module")
    assert fm.args["fd"] == -1 and fm.args["uargs"] == "vigil-args"
    # EBADF, or ENOSYS on a kernel built without module support (as here)
    assert field("evt.res", fm) in ("EBADF", "ENOSYS")
    # only the commands that load or attach code reach user space (a query is dropped)
    assert [(e.args["cmd"], e.res < 0) for e in mine if e.type == "bpf"] == [(5, True)]
    mt = only(mine, lambda e: e.type == "mount")
    assert mt.args["dev"] == "none" and mt.args["dir"] == mnt and mt.args["type"] == "tmpfs"
    assert mt.res == 0
    um = only(mine, lambda e: e.type == "umount2")
    assert um.args["name"] == mnt
    k = only(mine, lambda e: e.type == "kill")
    assert k.args["pid"] == live.pid and k.args["sig"] == 0 and k.res == 0
    # the signalled task, named by the kernel when the signal was sent
    assert k.args["target_pid"] == live.pid and k.args["target_name"].startswith("python")
    assert field("evt.arg", k, "target_name") == k.args["target_name"]
