"""Reading recordings is bounded (issue 14 item 8): ancestry cut, nesting refused, ranges
checked, huge lines skipped without being held, every problem with its line number."""

from __future__ import annotations

import io
import json

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.events.jsonl import (MAX_ANCESTRY, MAX_LINE_BYTES, BadLine, Numbered, decode_line,
                                iter_numbered, read_events)
from vigil.events.model import Event


def chain_bytes(depth: int) -> bytes:
    """A process with `depth` parents, written without a recursive encoder."""
    inner = b'{"pid":1,"name":"init"}'
    for i in range(depth):
        inner = b'{"pid":%d,"parent":%s}' % (i + 2, inner)
    return inner


def ancestry(ev: Event) -> list[int]:
    out, p = [], ev.proc
    while p is not None:
        out.append(p.pid)
        p = p.parent
    return out


def line(**fields) -> bytes:  # noqa: ANN003
    return json.dumps({"type": "execve", "ts": 5, **fields}).encode()


def test_ancestry_deeper_than_the_bound_is_cut_and_the_event_kept() -> None:
    got = decode_line(b'{"type":"execve","proc":' + chain_bytes(1000) + b"}", 7)
    assert isinstance(got, Numbered) and got.lineno == 7
    pids = ancestry(got.event)
    assert len(pids) == MAX_ANCESTRY + 1  # the process and its 256 parents
    assert pids[:3] == [1001, 1000, 999] and got.cut_ancestors == 1000 - MAX_ANCESTRY
    assert pids[-1] == 1001 - MAX_ANCESTRY


def test_ancestry_within_the_bound_is_kept_whole() -> None:
    got = decode_line(b'{"type":"execve","proc":' + chain_bytes(MAX_ANCESTRY) + b"}", 1)
    assert isinstance(got, Numbered) and got.cut_ancestors == 0
    assert len(ancestry(got.event)) == MAX_ANCESTRY + 1


def test_the_scan_is_not_fooled_by_strings_or_escaped_keys() -> None:
    trap = '"parent":{"parent":{' * 50 + '[[[[' * 50
    args = json.dumps([trap, '\\"}]', '"']).encode()
    raw = (b'{"type":"execve","raw":' + json.dumps(trap).encode() + b',"proc":'
           + chain_bytes(300).replace(b'{"pid":301,', b'{"pid":301,"args":' + args + b",", 1)
           + b"}").replace(b'"parent"', b'"par\\u0065nt"', 5)
    got = decode_line(raw, 1)
    assert isinstance(got, Numbered), got
    assert len(ancestry(got.event)) == MAX_ANCESTRY + 1
    assert got.event.proc.args == [trap, '\\"}]', '"'] and got.event.raw == trap


def test_other_deep_nesting_is_refused() -> None:
    deep = b'{"type":"execve","args":{"a":' + b"[" * 5000 + b"]" * 5000 + b"}}"
    got = decode_line(deep, 3)
    assert isinstance(got, BadLine) and got.lineno == 3 and "nested deeper" in got.error


def test_numbers_out_of_range_are_refused_with_their_path() -> None:
    for fields, where in [({"ts": 10**30}, "$.ts"), ({"ts": -1}, "$.ts"),
                          ({"proc": {"pid": 2**63}}, "$.proc.pid"),
                          ({"fd": {"lport": -(2**63) - 1}}, "$.fd.lport"),
                          ({"proc": {"start_ts": 10**20}}, "$.proc.start_ts")]:
        got = decode_line(line(**fields), 9)
        assert isinstance(got, BadLine) and where in got.error, (fields, got)
    ok = decode_line(line(ts=2**63 - 1, proc={"pid": -(2**63), "cgroup_id": 2**63 - 1}), 1)
    assert isinstance(ok, Numbered)


def test_a_huge_line_is_skipped_and_the_next_one_read() -> None:
    big = b'{"type":"execve","raw":"' + b"A" * (MAX_LINE_BYTES + 10) + b'"}\n'
    data = line(ts=1) + b"\n" + big + line(ts=3) + b"\n"
    items = list(iter_numbered(io.BytesIO(data)))
    assert [type(i).__name__ for i in items] == ["Numbered", "BadLine", "Numbered"]
    assert items[1].lineno == 2 and "longer than" in items[1].error
    assert items[2].lineno == 3 and items[2].event.ts == 3


def test_read_events_still_yields_events_and_bad_lines(tmp_path) -> None:  # noqa: ANN001
    f = tmp_path / "r.jsonl"
    f.write_bytes(b"# comment\n" + line(ts=1) + b"\nnot json\n\n" + line(ts=2) + b"\n")
    got = list(read_events(f))
    assert [e.ts for e in got if isinstance(e, Event)] == [1, 2]
    assert [b.lineno for b in got if isinstance(b, BadLine)] == [3]


_json = st.recursive(st.none() | st.booleans() | st.integers(-10**20, 10**20)
                     | st.text(max_size=8),
                     lambda kids: st.lists(kids, max_size=3)
                     | st.dictionaries(st.text(max_size=6), kids, max_size=3), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(depth=st.integers(0, 400), args=st.dictionaries(st.text(max_size=8), _json, max_size=4),
       junk=st.binary(max_size=20), cut=st.integers(0, 400))
def test_no_line_makes_the_reader_raise(depth: int, args: dict, junk: bytes, cut: int) -> None:
    raw = (b'{"type":"execve","args":' + json.dumps(args).encode() + b',"proc":'
           + chain_bytes(depth) + b"}")
    for candidate in (raw, raw[:cut] + junk, junk + raw, raw.replace(b"{", b"[", 3)):
        got = decode_line(candidate, 1)
        assert isinstance(got, (Numbered, BadLine))
    got = decode_line(raw, 1)
    if depth <= MAX_ANCESTRY:
        # within the bounds, exactly what the decoder alone gives
        assert isinstance(got, Numbered) and got.cut_ancestors == 0
        assert got.event == msgspec.json.decode(raw, type=Event)
    else:
        assert isinstance(got, Numbered) and got.cut_ancestors == depth - MAX_ANCESTRY
