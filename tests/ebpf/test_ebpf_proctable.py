"""The process table on a real directory tree laid out like /proc and /etc (no kernel needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vigil.events.model import FdInfo
from vigil.events.proctable import (ExecInfo, NameDb, ProcessTable, container_id_from_cgroup,
                                    encode_tty)

CID = "3f2a" + "0" * 56 + "beef"


@pytest.mark.parametrize("path,expected", [
    ("0::/init.scope", "host"),
    ("0::/user.slice/user-0.slice/session-1.scope", "host"),
    (f"0::/system.slice/docker-{CID}.scope", CID[:12]),
    (f"12:pids:/docker/{CID}", CID[:12]),
    (f"0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-{CID}.scope", CID[:12]),
    (f"0::/kubepods/besteffort/pod1/{CID}", CID[:12]),
    (f"0::/machine.slice/libpod-{CID}.scope/container", CID[:12]),
    (f"0::/kubepods.slice/crio-{CID}.scope", CID[:12]),
])
def test_container_id_from_cgroup_paths(path, expected):
    assert container_id_from_cgroup(path.split(":", 2)[-1]) == expected


def test_encode_tty_matches_proc_stat_format():
    assert encode_tty(136, 0) == 34816   # /dev/pts/0
    assert encode_tty(4, 1) == 1025      # /dev/tty1
    assert encode_tty(136, 300) == (300 & 0xFF) | (136 << 8) | ((300 & ~0xFF) << 12)


def _proc(root: Path, pid: int, ppid: int, comm: str, argv: list[str], uid: int = 0,
          cgroup: str = "0::/init.scope", exe: str | None = None, cwd: str = "/") -> None:
    d = root / str(pid)
    d.mkdir(parents=True)
    (d / "stat").write_text(f"{pid} ({comm}) S {ppid} {pid} {pid} 34816 -1 4194560 0 0 0 0 0 0 "
                            f"0 0 20 0 1 0 {100 + pid} 0 0\n")
    (d / "status").write_text(f"Name:\t{comm}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n"
                              f"Gid:\t{uid}\t{uid}\t{uid}\t{uid}\n")
    (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (d / "loginuid").write_text("1000" if uid else "4294967295")
    (d / "cgroup").write_text(cgroup + "\n")
    os.symlink(exe or f"/usr/bin/{comm}", d / "exe")
    os.symlink(cwd, d / "cwd")


@pytest.fixture
def roots(tmp_path):
    proc, etc = tmp_path / "proc", tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/h:/bin/sh\n")
    (etc / "group").write_text("root:x:0:\nalice:x:1000:\n")
    _proc(proc, 1, 0, "init", ["/sbin/init"])
    _proc(proc, 10, 1, "sshd", ["/usr/sbin/sshd", "-D"], exe="/usr/sbin/sshd")
    _proc(proc, 20, 10, "bash", ["-bash"], uid=1000, cwd="/home/alice")
    _proc(proc, 30, 20, "runc:[2:INIT]", ["runc", "init"],
          cgroup=f"0::/system.slice/docker-{CID}.scope", exe="/memfd:runc_cloned:/proc/self/exe (deleted)")
    return proc, etc


def test_seed_links_parents_and_reads_identity(roots):
    proc, etc = roots
    t = ProcessTable(proc_root=proc, etc_root=etc)
    assert t.seed() == 4
    bash = t.get(20)
    assert bash.parent is t.get(10) and bash.parent.parent is t.get(1)
    assert bash.user == "alice" and bash.group == "alice" and bash.loginuid == 1000
    assert bash.loginname == "alice"
    assert bash.cwd == "/home/alice" and bash.exe == "-bash" and bash.tty == 34816
    assert t.get(1).loginuid == -1
    runc = t.get(30)
    assert runc.container_id == CID[:12]
    assert runc.exe_from_memfd is True and runc.exepath == "memfd:runc_cloned:/proc/self/exe"
    assert t.get(20).container_id == "host"


def test_fork_exec_exit_keep_snapshots(roots):
    proc, etc = roots
    t = ProcessTable(proc_root=proc, etc_root=etc)
    t.seed()
    t.set_fd(20, 3, FdInfo(num=3, type="ipv4", name="1.2.3.4:5->6.7.8.9:10"))
    child = t.on_fork(20, 21, ts=123)
    assert child.pid == 21 and child.ppid == 20 and child.parent is t.get(20)
    assert child.start_ts == 123 and child.name == "bash"
    assert t.fd(21, 3).type == "ipv4"  # fds are inherited
    before = t.get(21)
    new = t.on_exec(before, ExecInfo(exepath="/usr/bin/cat", argv=["cat", "/etc/shadow"],
                                     args_truncated=False, cwd="/tmp", tty=0, sid=20, pgid=21,
                                     exe_from_memfd=False))
    assert new.exepath == "/usr/bin/cat" and new.args == ["/etc/shadow"] and new.cwd == "/tmp"
    assert before.exepath == "/usr/bin/bash"  # an earlier snapshot does not change
    assert new.start_ts == 123 and new.parent.name == "bash"
    assert t.on_exit(21) is new and t.get(21) is None and t.fd(21, 3) is None


def test_exec_users_are_the_running_processes_that_exec_d_a_path(roots):
    proc, etc = roots
    t = ProcessTable(proc_root=proc, etc_root=etc)
    t.seed()

    def run(pid: int, path: str) -> None:
        t.on_fork(20, pid, ts=1)
        t.on_exec(t.get(pid), ExecInfo(exepath=path, argv=[path], args_truncated=False,
                                       cwd="/", tty=0, sid=20, pgid=pid,
                                       exe_from_memfd=False))

    run(31, "/tmp/x")
    run(32, "/tmp/x")
    run(33, "/usr/bin/true")
    assert t.exec_users("/tmp/x") == [31, 32]
    t.on_exit(31)
    assert t.exec_users("/tmp/x") == [32]
    run(32, "/usr/bin/env")  # a new image: no longer running /tmp/x
    assert t.exec_users("/tmp/x") == [] and t.exec_users("/usr/bin/env") == [32]
    t.on_fork(32, 34, ts=2)  # a fork runs its parent's image but exec'd nothing
    assert t.exec_users("/usr/bin/env") == [32]


def test_view_is_the_same_object_until_something_changes(roots):
    proc, etc = roots
    t = ProcessTable(proc_root=proc, etc_root=etc)
    t.seed()
    v1 = t.view(20, 20, 10, 1000, 1000, 1000, 1000, "bash", 0)
    v2 = t.view(20, 20, 10, 1000, 1000, 1000, 1000, "bash", 0)
    assert v1 is v2
    root = t.view(20, 20, 10, 0, 0, 0, 1000, "bash", 0)  # setuid(0)
    assert root.uid == 0 and root.user == "root" and root.loginname == "alice"
    assert v1.uid == 1000  # the earlier snapshot keeps its credentials
    thread = t.view(20, 25, 10, 0, 0, 0, 1000, "worker", 0)
    assert thread.tid == 25 and thread.pid == 20 and thread.name == "worker"
    assert t.get(20).tid == 20  # a thread view does not replace the process entry
    reparented = t.view(20, 20, 1, 0, 0, 0, 1000, "bash", 0)
    assert reparented.parent is t.get(1)


def test_unknown_process_is_read_from_proc_or_made_from_the_event(roots):
    proc, etc = roots
    t = ProcessTable(proc_root=proc, etc_root=etc)
    p = t.view(10, 10, 1, 0, 0, 0, -1, "sshd", 0)  # not seeded, but in /proc
    assert p.exepath == "/usr/sbin/sshd" and p.args == ["-D"]
    ghost = t.view(999, 999, 1, 0, 0, 0, -1, "gone", 0)  # already gone from /proc
    assert ghost.pid == 999 and ghost.name == "gone" and ghost.user == "root"


def test_names_are_reloaded_when_passwd_changes(tmp_path):
    f = tmp_path / "passwd"
    f.write_text("root:x:0:0::/root:/bin/bash\n")
    db = NameDb(f)
    assert db.name(0) == "root" and db.name(1001) is None
    f.write_text("root:x:0:0::/root:/bin/bash\nbob:x:1001:1001::/h:/bin/sh\n")
    os.utime(f, (1, 1))  # a different mtime, as an edit makes
    assert db.name(1001) == "bob"
    assert db.name(-1) is None and db.name(None) is None


def test_container_id_cached_by_cgroup_id_only_when_the_v2_path_says_so(tmp_path):
    from vigil.events.proctable import CgroupResolver

    host_v1_container = f"4:memory:/docker/{CID}\n0::/\n"
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "cgroup").write_text(host_v1_container)
    (tmp_path / "8").mkdir()
    (tmp_path / "8" / "cgroup").write_text("4:memory:/\n0::/\n")
    r = CgroupResolver(tmp_path)
    # same v2 cgroup (id 1) for both: the v1-only container answer must not be cached
    assert r.container_id(1, 7) == CID[:12]
    assert r.container_id(1, 8) == "host"
    assert r.container_id(1, 7) == CID[:12]
    (tmp_path / "9").mkdir()
    (tmp_path / "9" / "cgroup").write_text(f"0::/system.slice/docker-{CID}.scope\n")
    assert r.container_id(42, 9) == CID[:12]
    (tmp_path / "9" / "cgroup").unlink()  # gone: the v2 answer was cached by cgroup id
    assert r.container_id(42, 9) == CID[:12]
    (tmp_path / "10").mkdir()
    (tmp_path / "10" / "cgroup").write_text("0::/user.slice\n")  # a v2-only host
    assert r.container_id(5, 10) == "host"
    (tmp_path / "10" / "cgroup").unlink()
    assert r.container_id(5, 10) == "host" and r._cache[5] == "host"


def test_gone_process_container_found_by_cgroup_id_in_the_tree(tmp_path):
    from vigil.events.proctable import CgroupResolver

    tree = tmp_path / "cg"
    scope = tree / "system.slice" / f"docker-{CID}.scope"
    scope.mkdir(parents=True)
    other = tree / "user.slice"
    other.mkdir()
    r = CgroupResolver(tmp_path / "proc", cgroup2_root=tree)  # no /proc entry: process gone
    ino = scope.stat().st_ino
    assert r.container_id(ino, 77) == CID[:12]
    assert r.container_id(other.stat().st_ino, 78) == "host"
    scope.rmdir()
    # remembered per cgroup id: the directory is not needed a second time
    assert r.container_id(ino, 79) == CID[:12]
