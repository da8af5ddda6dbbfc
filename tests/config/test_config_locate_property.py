"""Property: in any TOML document tomlkit writes, every key is located where it is written."""

from __future__ import annotations

import tomllib

import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.config_locate import key_positions

names = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True) | st.sampled_from(
    ["with space", "dot.ted", "quote'd"])
scalars = (st.integers(-10**6, 10**6) | st.booleans()
           | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
           | st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(names, inner, max_size=3), max_leaves=8)
documents = st.dictionaries(names, values | st.dictionaries(names, values, max_size=3),
                            max_size=5)


def key_paths(data, prefix=()):
    for key, value in data.items():
        yield prefix + (key,)
        if isinstance(value, dict):
            yield from key_paths(value, prefix + (key,))


@settings(max_examples=100, deadline=None)
@given(documents)
def test_every_key_of_a_written_document_is_found(doc: dict) -> None:
    text = tomlkit.dumps(doc)
    assert tomllib.loads(text) is not None
    found = key_positions(text)
    lines = text.split("\n")  # TOML lines end at \n only
    for path in key_paths(doc):
        assert path in found, (path, text)
        line, col = found[path]
        written = lines[line - 1][col - 1:]
        leaf = path[-1]
        # the position is where the key (or its table header) starts
        assert written.lstrip("[").lstrip("{ ").startswith(
            (leaf, f'"{leaf}', f"'{leaf}", '"', "'", path[0])), (path, line, col, text)
