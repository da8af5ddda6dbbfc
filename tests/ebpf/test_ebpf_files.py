"""Real kernel: file events (open of /etc/shadow, unlink, rename, setuid chmod)."""

from __future__ import annotations

import os
import stat

import pytest
from ebpf_harness import live, only, requires_bpf  # noqa: F401  (fixture)

from vigil.events.fields import DEFAULT_FIELDS

pytestmark = requires_bpf


def field(name: str, event, arg: str | None = None):
    return DEFAULT_FIELDS.extractor(name, arg)(event)


def test_cat_shadow_is_an_open_read_with_path_flags_and_result(live):
    events = live.run(["cat", "/etc/shadow"],
                      until=lambda e: e.type == "openat" and e.args.get("name") == "/etc/shadow")
    ev = only(events, lambda e: e.type == "openat" and e.args.get("name") == "/etc/shadow")
    assert ev.proc.name == "cat"
    assert ev.proc.exepath == "/usr/bin/cat"
    assert ev.proc.args == ["/etc/shadow"]
    assert ev.res is not None and ev.res >= 0
    assert ev.fd is not None and ev.fd.num == ev.res and ev.fd.name == "/etc/shadow"
    assert ev.args["flags"] & os.O_ACCMODE == os.O_RDONLY
    # the fields the stable Falco rule "Read sensitive file untrusted" reads
    assert field("evt.type", ev) == "openat"
    assert field("evt.is_open_read", ev) is True
    assert field("fd.typechar", ev) == "f"
    assert field("fd.num", ev) >= 0
    assert field("fd.name", ev) == "/etc/shadow"
    assert field("fd.directory", ev) == "/etc"
    assert field("evt.res", ev) == "SUCCESS"
    assert field("evt.arg", ev, "flags").startswith("O_RDONLY")
    assert field("proc.name", ev) == "cat"
    assert field("user.name", ev) == "root"
    assert field("container.id", ev) == "host"


def test_failed_open_has_negative_fd_and_errno(live, tmp_path):
    missing = tmp_path / "missing"
    events = live.run(["cat", str(missing)], check=False,
                      until=lambda e: e.type == "openat" and e.args.get("name") == str(missing))
    ev = only(events, lambda e: e.type == "openat" and e.args.get("name") == str(missing))
    assert ev.res == -2 and field("evt.res", ev) == "ENOENT"
    assert ev.fd.num == -1


def test_relative_open_is_made_absolute_against_cwd(live, tmp_path):
    (tmp_path / "rel.txt").write_text("x")
    path = str(tmp_path / "rel.txt")
    events = live.run(["cat", "rel.txt"], cwd=tmp_path,
                      until=lambda e: e.type == "openat" and e.args.get("name") == path)
    ev = only(events, lambda e: e.type == "openat" and e.args.get("name") == path)
    assert ev.fd.nameraw == "rel.txt"
    assert ev.proc.cwd == str(tmp_path)


def test_unlink_and_rename_of_a_temp_file(live, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    a.write_text("1")
    c.write_text("2")
    events = live.python(
        f"import os; os.rename({str(a)!r}, {str(b)!r}); os.unlink({str(c)!r})",
        until=lambda e: e.type in ("unlink", "unlinkat") and e.args.get("path", e.args.get("name")) == str(c))
    ren = only(events, lambda e: e.type in ("rename", "renameat", "renameat2")
               and e.args.get("oldpath") == str(a))
    assert ren.args["newpath"] == str(b) and ren.res == 0
    assert field("fs.path.source", ren) == str(a) and field("fs.path.target", ren) == str(b)
    unl = only(events, lambda e: e.type in ("unlink", "unlinkat") and field("fs.path.name", e) == str(c))
    assert unl.res == 0
    assert unl.proc.name.startswith("python")


def test_setuid_bit_chmod(live, tmp_path):
    f = tmp_path / "suid"
    f.write_text("")
    events = live.run(["chmod", "u+s", str(f)],
                      until=lambda e: e.type.endswith("chmod") and field("fs.path.name", e) == str(f)
                      or (e.type == "fchmodat" and e.args.get("filename") == str(f)))
    ev = only(events, lambda e: e.type in ("chmod", "fchmodat") and e.args.get("filename") == str(f))
    assert ev.res == 0
    assert ev.args["mode"] & stat.S_ISUID
    assert field("evt.arg", ev, "mode").startswith("04")
    assert os.stat(f).st_mode & stat.S_ISUID
