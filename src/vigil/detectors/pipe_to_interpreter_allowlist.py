"""Static knowledge for `pipe_to_interpreter`: who fetches, who decodes, who is exempt.

Always true, everywhere: a program whose job is to fetch data over the network, writing
into the stdin of a shell or interpreter that reads its program from stdin, makes that
program whatever the server sent; a decoder in that place turns an encoded blob into
code nobody could read on the command line. What runs under a package manager (a
maintainer script unpacking with `gzip -dc | sh`) is the package's own installation.
"""

from __future__ import annotations

import re

#: programs made to fetch data from the network onto their stdout
DOWNLOADERS: frozenset[str] = frozenset({
    "curl", "wget", "wget2", "fetch", "aria2c", "axel", "lwp-download", "lwp-request", "GET",
    "http", "https", "xh", "curlie", "lynx", "links", "w3m", "tftp", "ftp", "lftp", "scp",
    "sftp", "rsync", "ssh", "nc", "ncat", "netcat", "nc.openbsd", "nc.traditional", "socat",
    "telnet", "openssl", "busybox", "powershell", "pwsh",
})

#: decoder binaries, and the arguments that make them decode (None: decoding is their job)
DECODERS: dict[str, re.Pattern[str] | None] = {
    "base64": re.compile(r"^(-d|--decode|-[a-zA-Z]*d[a-zA-Z]*)$"),
    "base32": re.compile(r"^(-d|--decode|-[a-zA-Z]*d[a-zA-Z]*)$"),
    "basenc": re.compile(r"^(-d|--decode)$"),
    "xxd": re.compile(r"^(-r|-revert|-[a-z]*r[a-z]*)$"),
    "openssl": re.compile(r"^(-d|-base64|-a|base64)$"),
    "uudecode": None,
    "gunzip": None, "zcat": None, "bunzip2": None, "bzcat": None, "xzcat": None,
    "unxz": None, "zstdcat": None, "unzstd": None,
    "gzip": re.compile(r"^(-d|--decompress|-[a-z]*d[a-z]*)$"),
    "xz": re.compile(r"^(-d|--decompress|-[a-z]*d[a-z]*)$"),
    "rev": None,
}

#: inline code that decodes data and runs it, per interpreter family
DECODE_AND_RUN: dict[str, re.Pattern[str]] = {
    "python": re.compile(
        r"\b(exec|eval|compile)\s*\(.*\b(b64decode|b32decode|b85decode|a85decode|"
        r"decodebytes|decodestring|codecs\.decode|zlib\.decompress|marshal\.loads|"
        r"bytes\.fromhex|unhexlify|base64\.)", re.S),
    "perl": re.compile(r"\beval\b.*\b(decode_base64|unpack\s*\(?\s*[\"'](m|H))", re.S),
    "ruby": re.compile(r"\b(eval|instance_eval)\b.*\b(Base64\.\w*decode|unpack1?\s*\(?\s*"
                       r"[\"']m)", re.S),
    "php": re.compile(r"\b(eval|assert|create_function)\s*\(.*\b(base64_decode|gzinflate|"
                      r"gzuncompress|str_rot13|hex2bin|convert_uudecode)", re.S | re.I),
    "node": re.compile(r"\b(eval|Function|runInThisContext|runInNewContext)\s*\(.*"
                       r"(Buffer\.from\s*\([^)]*['\"](base64|hex)['\"]|atob\s*\()", re.S),
    "shell": re.compile(
        r"(\beval\b|\bsource\b|(^|[;&|({\s])\.\s|\b(ba|da|k|z)?sh\s+-c)\s*[\"']?\s*"
        r"(\$\(|`|<\()[^)`]*\b(base64\s+(-\w*d|--decode)|base32\s+-\w*d|xxd\s+-\w*r|"
        r"openssl\s+(enc\s+)?(-d|base64\s+-d))", re.S),
}

#: package managers: what runs under them is a package's own installation
PACKAGE_MANAGERS: frozenset[str] = frozenset({
    "dpkg", "apt", "apt-get", "aptitude", "unattended-upgrade", "rpm", "dnf", "yum",
    "zypper", "apk", "pacman", "snapd",
})
