"""The trail's tail (issue 14 items 12 and 14): records cut off the end, a chain rewritten
with recomputed hashes, a rotated file replaced by a self-consistent forged chain, and the
`prev` check on each file's first line. Real files; the forger has everything but the key.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from typer.testing import CliRunner

from vigil.audit.layout import trail_files
from vigil.audit.record import GENESIS, seal, unseal
from vigil.audit.trail import AuditTrail
from vigil.audit.verify import verify_trail
from vigil.detections import Detection, Entity
from vigil.priority import Priority

T0 = 1_795_000_000.0


def default_key_path(trail: Path) -> Path:
    from vigil.audit.seal import default_key_path as key_of
    return key_of(trail)


def head_path(trail: Path) -> Path:
    from vigil.audit.seal import head_path as head_of
    return head_of(trail)


def det(i: int) -> Detection:
    return Detection(kind="detector", name="reverse_shell", priority=Priority.CRITICAL,
                     output=f"incident {i}", ts=int((T0 + i) * 1e9),
                     entity=Entity(ip=f"192.0.2.{i % 250}"))


def write_trail(d: Path, n: int, max_bytes: int = 50 * 1024 * 1024) -> Path:
    with AuditTrail(d, max_bytes=max_bytes, clock=lambda: T0) as trail:
        for i in range(n):
            trail.record_detection(det(i))
    return d / "audit.jsonl"


def lines(f: Path) -> list[bytes]:
    return f.read_bytes().splitlines(keepends=True)


def rechain(records: list[bytes], prev: str) -> tuple[list[bytes], str]:
    """Recompute every hash from `prev` on, as a forger without the key can."""
    out = []
    for raw in records:
        rec, _ = unseal(raw.rstrip(b"\n"))
        line, prev = seal(rec, prev)
        out.append(line)
    return out, prev


def forge_output(raw: bytes, text: str) -> bytes:
    rec, _ = unseal(raw.rstrip(b"\n"))
    rec.output = text
    line, _ = seal(rec, rec.prev)
    return line


# -- the end of the trail -------------------------------------------------------------------

def test_deleting_the_last_records_is_detected(tmp_path: Path) -> None:
    f = write_trail(tmp_path, 6)
    f.write_bytes(b"".join(lines(f)[:4]))
    r = verify_trail(tmp_path)
    assert not r.ok, r.message()
    assert "removed from the end" in r.problem and "seq 4" in r.problem and "seq 6" in r.problem
    assert r.location == f"{f}:4"


def test_truncated_last_record_does_not_vanish_after_a_restart(tmp_path: Path) -> None:
    """The last record cut short: on restart it is moved aside, the chain goes on, and the
    verification must still say that a sealed record is missing."""
    f = write_trail(tmp_path, 5)
    data = f.read_bytes()
    f.write_bytes(data[:-40])  # cut into the last record
    with AuditTrail(tmp_path, clock=lambda: T0) as trail:
        assert [r.kind for r in trail.repairs] == ["truncated"]
        trail.record_detection(det(99))
    r = verify_trail(tmp_path)
    assert not r.ok, r.message()
    assert "removed from the end" in r.problem and "partial-" in r.problem
    assert r.location == f"{f}:5"  # the repair record, first after the surviving four
    aside = list(tmp_path.glob("audit.jsonl.partial-*"))
    assert len(aside) == 1 and data.endswith(aside[0].read_bytes() + data[-40:])


def test_a_crash_mid_write_is_a_note_not_tampering(tmp_path: Path) -> None:
    """An unfinished line that was never sealed (the agent died writing it) is kept aside
    and recorded; verification passes and says so."""
    f = write_trail(tmp_path, 3)
    with open(f, "ab") as fh:
        fh.write(b'{"v":1,"seq":4,"ty')
    with AuditTrail(tmp_path, clock=lambda: T0) as trail:
        assert [(r.kind, r.tamper) for r in trail.repairs] == [("unfinished_line", False)]
        trail.record_detection(det(4))
    r = verify_trail(tmp_path)
    assert r.ok and r.sealed and r.records == 5, r.message()
    assert len(r.notes) == 1 and "unfinished last line (18 bytes)" in r.notes[0]


def test_forged_record_with_recomputed_hashes_is_detected(tmp_path: Path) -> None:
    f = write_trail(tmp_path, 6)
    data = lines(f)
    data[2] = forge_output(data[2], "nothing happened")
    tail, _ = rechain(data[2:], unseal(data[1].rstrip(b"\n"))[1])
    f.write_bytes(b"".join(data[:2] + tail))
    assert verify_trail(tmp_path, chain_only=True).ok  # the chain alone cannot see it
    r = verify_trail(tmp_path)
    assert not r.ok and "forged" in r.problem and r.location == f"{f}:6", r.message()


def test_forged_then_reopened_trail_records_the_forgery(tmp_path: Path) -> None:
    f = write_trail(tmp_path, 4)
    data = lines(f)
    data[3] = forge_output(data[3], "nothing happened")
    f.write_bytes(b"".join(data))
    with AuditTrail(tmp_path, clock=lambda: T0) as trail:
        assert [r.kind for r in trail.repairs] == ["rewritten"]
    r = verify_trail(tmp_path)
    assert not r.ok and "rewritten" in r.problem and r.location == f"{f}:5", r.message()


def test_a_forged_head_needs_the_key(tmp_path: Path) -> None:
    """Records cut off the end, and the head rewritten to match with a guessed key."""
    from vigil.audit.seal import HeadWriter
    f = write_trail(tmp_path, 5)
    keep = lines(f)[:3]
    f.write_bytes(b"".join(keep))
    last, digest = unseal(keep[-1].rstrip(b"\n"))
    head_path(tmp_path).unlink()
    HeadWriter(head_path(tmp_path), b"\x01" * 32).reset(last.seq, digest)
    r = verify_trail(tmp_path)
    assert not r.ok and "forged" in r.problem and r.location == str(head_path(tmp_path))


def test_deleting_the_key_is_detected(tmp_path: Path) -> None:
    write_trail(tmp_path, 3)
    default_key_path(tmp_path).unlink()
    r = verify_trail(tmp_path)
    assert not r.ok and "key is missing" in r.problem
    with AuditTrail(tmp_path, clock=lambda: T0) as trail:  # a restart makes a new key
        assert [(r.kind, r.tamper) for r in trail.repairs] == [("key_missing", True)]
    r = verify_trail(tmp_path)
    assert not r.ok and "cannot be authenticated" in r.problem


def test_record_written_but_not_sealed_is_reported_then_sealed_on_restart(
        tmp_path: Path) -> None:
    """A crash between writing a record and sealing it: one record after the head."""
    f = write_trail(tmp_path, 3)
    last, digest = unseal(lines(f)[-1].rstrip(b"\n"))
    last.seq += 1
    last.output = "the last incident"
    line, _ = seal(last, digest)
    with open(f, "ab") as fh:
        fh.write(line)
    r = verify_trail(tmp_path)
    assert not r.ok and "not sealed" in r.problem
    with AuditTrail(tmp_path, clock=lambda: T0) as trail:
        assert trail.repairs == []
    assert verify_trail(tmp_path).ok


def test_records_appended_without_the_key_are_reported(tmp_path: Path) -> None:
    f = write_trail(tmp_path, 3)
    prev = unseal(lines(f)[-1].rstrip(b"\n"))[1]
    appended = []
    for i, raw in enumerate(lines(f)[:2]):  # two copies, renumbered: the chain stays intact
        rec, _ = unseal(raw.rstrip(b"\n"))
        rec.seq = 4 + i
        line, prev = seal(rec, prev)
        appended.append(line)
    with open(f, "ab") as fh:
        fh.write(b"".join(appended))
    assert verify_trail(tmp_path, chain_only=True).ok
    r = verify_trail(tmp_path)
    assert not r.ok and "2 record(s) after the sealed head" in r.problem
    with AuditTrail(tmp_path, clock=lambda: T0) as trail:
        assert [r.kind for r in trail.repairs] == ["unsealed"]
    assert not verify_trail(tmp_path).ok


# -- rotated files ---------------------------------------------------------------------------

def _rotated_trail(d: Path) -> list[Path]:
    write_trail(d, 24, max_bytes=4096)
    files = trail_files(d)
    assert len(files) >= 4
    return files


def test_rotated_file_replaced_by_a_self_consistent_forged_chain(tmp_path: Path) -> None:
    """The forger rewrites a rotated file and recomputes every later hash, in every later
    file: the chain is intact again, only the sealed head can tell."""
    files = _rotated_trail(tmp_path)
    prev = unseal(lines(files[0])[-1].rstrip(b"\n"))[1]
    for k, f in enumerate(files[1:]):
        data = lines(f)
        if k == 0:
            data[0] = forge_output(data[0], "nothing happened")
        data, prev = rechain(data, prev)
        f.write_bytes(b"".join(data))
    assert verify_trail(tmp_path, chain_only=True).ok
    r = verify_trail(tmp_path)
    assert not r.ok and "forged" in r.problem, r.message()


def test_rotated_file_replaced_by_a_chain_of_its_own_fails_at_its_first_line(
        tmp_path: Path) -> None:
    """A forged rotated file that is a valid chain on its own (starting from GENESIS):
    its first line's `prev` is checked against the previous file's last record."""
    files = _rotated_trail(tmp_path)
    data = lines(files[1])
    data[0] = forge_output(data[0], "nothing happened")
    forged, _ = rechain(data, GENESIS)
    files[1].write_bytes(b"".join(forged))
    r = verify_trail(tmp_path)
    assert not r.ok and r.location == f"{files[1]}:1" and "prev" in r.problem, r.message()


def test_prev_is_checked_on_each_files_first_line(tmp_path: Path) -> None:
    """The last record of a rotated file replaced by another with the same seq and a
    recomputed hash: only the next file's first `prev` shows it (seq still follows, and
    the head names the untouched last record)."""
    files = _rotated_trail(tmp_path)
    data = lines(files[1])
    data[-1] = forge_output(data[-1], "nothing happened")
    files[1].write_bytes(b"".join(data))
    r = verify_trail(tmp_path)
    assert not r.ok and r.location == f"{files[2]}:1" and "prev" in r.problem, r.message()


def test_removing_a_rotated_files_last_records_fails_at_the_next_file(tmp_path: Path) -> None:
    files = _rotated_trail(tmp_path)
    files[0].write_bytes(b"".join(lines(files[0])[:-1]))
    r = verify_trail(tmp_path)
    assert not r.ok and r.location == f"{files[1]}:1", r.message()


# -- the command and the files --------------------------------------------------------------

def test_verify_command_reports_truncation_and_chain_only(tmp_path: Path) -> None:
    import typer

    from vigil.commands.audit import register
    app = typer.Typer()
    register(app)
    f = write_trail(tmp_path, 4)
    f.write_bytes(b"".join(lines(f)[:3]))
    r = CliRunner().invoke(app, ["audit", "verify", str(tmp_path)])
    assert r.exit_code == 1 and "removed from the end" in r.output
    r = CliRunner().invoke(app, ["audit", "verify", str(tmp_path), "--chain-only"])
    assert r.exit_code == 0 and "head not checked" in r.output
    key = tmp_path.parent / "elsewhere.key"
    os.replace(default_key_path(tmp_path), key)
    r = CliRunner().invoke(app, ["audit", "verify", str(tmp_path), "--key", str(key)])
    assert r.exit_code == 1 and "removed from the end" in r.output


def test_key_head_and_trail_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        d = tmp_path / "audit"
        f = write_trail(d, 30, max_bytes=4096)
        with open(f, "ab") as fh:
            fh.write(b'{"v":1,"se')
        AuditTrail(d, max_bytes=4096).close()
    finally:
        os.umask(old)
    files = trail_files(d) + [head_path(d), default_key_path(d)]
    files += list(d.glob("audit.jsonl.partial-*"))
    assert len(files) >= 6
    modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
    assert set(modes.values()) == {0o600}, modes
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
