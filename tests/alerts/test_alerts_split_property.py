"""Splitting long chat messages: every part within the limit, no escape sequence cut,
nothing lost or reordered (property test)."""

from __future__ import annotations

import html

from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.alerts.sinks.text import escape_html, escape_markdown_v2, escaped_atoms, pack, utf16_len

TEXT = st.text(alphabet=st.sampled_from(list("ab<>&_*.\n 😀é")), max_size=600)


@settings(max_examples=200, deadline=None)
@given(text=TEXT, limit=st.integers(min_value=12, max_value=80))
def test_html_parts_fit_and_rejoin(text: str, limit: int) -> None:
    parts = pack(escaped_atoms(text, escape_html, limit), limit)
    assert all(0 < utf16_len(p) <= limit for p in parts)
    # an entity is never cut: every "&" in a part starts a whole entity
    for p in parts:
        assert p.count("&") == p.count("&amp;") + p.count("&lt;") + p.count("&gt;")
    # nothing lost or reordered (parts drop only line breaks at their ends and
    # whitespace-only stretches, which chat APIs refuse)
    joined = "".join(html.unescape(p) for p in parts)
    assert "".join(joined.split()) == "".join(text.split())


@settings(max_examples=200, deadline=None)
@given(text=TEXT, limit=st.integers(min_value=12, max_value=80))
def test_markdown_v2_parts_never_end_in_a_lone_backslash(text: str, limit: int) -> None:
    parts = pack(escaped_atoms(text, escape_markdown_v2, limit), limit)
    assert all(0 < utf16_len(p) <= limit for p in parts)
    for p in parts:
        stripped = p.rstrip("\\")
        assert (len(p) - len(stripped)) % 2 == 0  # backslashes come in escape pairs at the end
