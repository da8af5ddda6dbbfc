"""Static knowledge for `ransomware`: tools whose normal work looks like mass rewriting.

Always true: a compressor replaces each file it compresses by a copy with its own
extension (`gzip f` writes `f.gz` and deletes `f`), which is the same file-system shape as
ransomware; it is recognised by the compressor writing its own format, never by the
directory it works in. Extensions that only number or date a file (`app.log.1`) are how
rotation names files, not a new format.
"""

from __future__ import annotations

import re

#: compressor -> the extensions it writes
COMPRESSOR_FORMATS: dict[str, frozenset[str]] = {
    "gzip": frozenset({"gz"}), "pigz": frozenset({"gz", "zz"}),
    "bzip2": frozenset({"bz2"}), "pbzip2": frozenset({"bz2"}), "lbzip2": frozenset({"bz2"}),
    "xz": frozenset({"xz", "lzma"}), "pxz": frozenset({"xz"}), "lzma": frozenset({"lzma"}),
    "zstd": frozenset({"zst"}), "pzstd": frozenset({"zst"}), "lz4": frozenset({"lz4"}),
    "lzip": frozenset({"lz"}), "plzip": frozenset({"lz"}), "lzop": frozenset({"lzo"}),
    "brotli": frozenset({"br"}), "compress": frozenset({"Z"}), "ncompress": frozenset({"Z"}),
}

#: extensions that are not a new format: numbers, dates, editor and rotation suffixes
NOT_A_FORMAT = re.compile(r"(\d+|\d{4}-?\d{2}-?\d{2}.*|old|bak|orig|tmp|swp|part|partial|"
                          r"dpkg-(new|old|dist|tmp)|ucf-(new|old|dist)|rpmnew|rpmsave)")
