"""`QuietDirs`: which working directories the kernel may judge relative names in.

The map writes go to a dict here (the kernel side is tested live in
tests/ebpf/test_ebpf_rule_filter.py); the directories are real ones under tmp_path.
"""

from __future__ import annotations

import os

from vigil.sensors.ebpf.lanes import ReadFilter
from vigil.sensors.ebpf.quietdirs import QuietDirs, dir_key


def quiet(reads: ReadFilter | None, writes: ReadFilter | None = None
          ) -> tuple[QuietDirs, dict[bytes, bytes]]:
    kernel: dict[bytes, bytes] = {}
    q = QuietDirs(kernel.__setitem__, lambda k: kernel.pop(k))
    q.set_filters(reads, writes)
    return q, kernel


def test_a_directory_no_wanted_path_lies_under_is_stored_once(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    q, kernel = quiet(ReadFilter(("/etc/shadow",), ("/root/",), ()))
    q.note(str(src))
    q.note(str(src))
    assert list(kernel) == [dir_key(str(src))] and len(q) == 1
    bits, room = kernel[dir_key(str(src))][:2]
    assert bits == 1 and room == 128 - len(str(src)) - 1


def test_a_directory_holding_a_wanted_path_is_not_stored(tmp_path):
    (tmp_path / "keys").mkdir()
    q, kernel = quiet(ReadFilter((), (f"{tmp_path}/keys/",), ()))
    q.note(str(tmp_path))
    q.note(str(tmp_path / "keys"))
    q.note(str(tmp_path / "missing"))
    assert kernel == {}


def test_renames_and_revalidation_forget_directories_whose_path_moved(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    q, kernel = quiet(ReadFilter(("/etc/shadow",), (), ()))
    q.note(str(a / "."))  # not normal: judged, never stored
    q.note(str(a))
    q.note(str(b))
    assert len(kernel) == 2
    q.renamed(str(tmp_path))           # a parent renamed: both paths moved
    assert kernel == {} and len(q) == 0
    q.note(str(a))
    os.rename(a, tmp_path / "c")      # unseen by the sensor: the next revalidation
    os.mkdir(a)                       # the path now names another directory
    q.revalidate()
    assert kernel == {}
    q.note(str(a))
    assert list(kernel) == [dir_key(str(a))]
    q.set_filters(None, ReadFilter((), ("/etc/",), ()))  # new filters: verdicts void
    assert kernel == {}


def test_nothing_is_judged_without_filters(tmp_path):
    q, kernel = quiet(None, None)
    assert not q.active
