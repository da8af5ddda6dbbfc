"""Real kernel: an open says whether it created the file, and a truncation what it cleared."""

from __future__ import annotations

import os

import pytest
from ebpf_harness import live, only, requires_bpf  # noqa: F401  (fixture)

from vigil.events.fields import DEFAULT_FIELDS

pytestmark = requires_bpf


def field(name: str, event, arg: str | None = None):
    return DEFAULT_FIELDS.extractor(name, arg)(event)


def _needs_truncation_sizes(live) -> None:
    if not live.sensor.truncation_sources:
        pytest.skip("this kernel refused both the fentry on do_truncate and the ext4 "
                    "tracepoint: sizes before truncation are not reported here")


def test_creating_a_log_with_o_trunc_reports_created_and_no_size(live, tmp_path):
    path = tmp_path / "x.log"
    events = live.python(f"import os; os.close(os.open({str(path)!r}, "
                         f"os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))",
                         until=lambda e: e.type == "openat" and e.fd.name == str(path))
    ev = only(events, lambda e: e.type == "openat" and e.fd.name == str(path))
    assert ev.args["created"] is True and field("evt.arg", ev, "created") == "true"
    assert field("evt.rawarg", ev, "created") is True
    assert field("fd.size_before", ev) is None
    assert ev.fd.ino == os.stat(path).st_ino and ev.fd.dev == os.stat(path).st_dev
    assert field("fd.ino", ev) == os.stat(path).st_ino


def test_truncating_an_existing_1k_file_reports_its_size(live, tmp_path):
    _needs_truncation_sizes(live)
    path = tmp_path / "existing.log"
    path.write_bytes(b"x" * 1024)
    events = live.python(f"import os; os.close(os.open({str(path)!r}, "
                         f"os.O_WRONLY | os.O_CREAT | os.O_TRUNC))",
                         until=lambda e: e.type == "openat" and e.fd.name == str(path))
    ev = only(events, lambda e: e.type == "openat" and e.fd.name == str(path))
    assert ev.args["created"] is False and field("evt.arg", ev, "created") == "false"
    assert field("fd.size_before", ev) == 1024
    assert path.stat().st_size == 0


def test_an_existing_empty_file_truncated_had_nothing(live, tmp_path):
    _needs_truncation_sizes(live)
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    events = live.python(f"import os; os.close(os.open({str(path)!r}, "
                         f"os.O_WRONLY | os.O_TRUNC))",
                         until=lambda e: e.type == "openat" and e.fd.name == str(path))
    ev = only(events, lambda e: e.type == "openat" and e.fd.name == str(path))
    assert ev.args["created"] is False and field("fd.size_before", ev) == 0


def test_an_open_without_o_trunc_has_no_size_before(live, tmp_path):
    path = tmp_path / "kept.log"
    path.write_bytes(b"y" * 300)
    events = live.python(f"import os; fd = os.open({str(path)!r}, os.O_RDWR | os.O_APPEND); "
                         f"os.write(fd, b'z'); os.close(fd)",
                         until=lambda e: e.type == "openat" and e.fd.name == str(path))
    ev = only(events, lambda e: e.type == "openat" and e.fd.name == str(path))
    assert ev.args["created"] is False and field("fd.size_before", ev) is None


def test_truncate_and_ftruncate_report_the_size_they_found(live, tmp_path):
    _needs_truncation_sizes(live)
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_bytes(b"a" * 5000)
    b.write_bytes(b"b" * 700)
    code = (f"import os\nos.truncate({str(a)!r}, 10)\n"
            f"fd = os.open({str(b)!r}, os.O_WRONLY)\nos.ftruncate(fd, 0)\nos.close(fd)\n")
    events = live.python(code, until=lambda e: e.type == "ftruncate" and e.proc.pid == live.pid)
    tr = only(events, lambda e: e.type == "truncate" and e.args.get("path") == str(a))
    assert tr.args["length"] == 10 and field("fd.size_before", tr) == 5000
    ft = only(events, lambda e: e.type == "ftruncate" and e.proc.pid == live.pid)
    # the kernel names the file the fd is (its path walked from the dentry)
    assert ft.fd.name == str(b) and ft.fd.type == "file"
    assert field("fd.size_before", ft) == 700
