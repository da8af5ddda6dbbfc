"""Static knowledge for `download_exec`: programs whose job is to fetch and install.

Always true, everywhere: package managers and language package tools download archives
and write the programs inside them (pip's console scripts, npm's `.bin` links, cargo's
and go's built binaries), which are then run. Their writes are audited, not alerted.
"""

from __future__ import annotations

#: package managers and language package tools (by binary or installed script name)
FETCHING_INSTALLERS: frozenset[str] = frozenset({
    "dpkg", "apt", "apt-get", "aptitude", "unattended-upgrade", "rpm", "dnf", "yum",
    "zypper", "apk", "pacman", "snapd", "snap", "flatpak", "packagekitd",
    "pip", "pip3", "pipx", "uv", "poetry", "pdm", "conda", "mamba", "micromamba",
    "npm", "npx", "yarn", "pnpm", "bun", "deno", "corepack",
    "cargo", "rustup", "go", "gem", "bundle", "bundler", "composer", "mvn", "gradle",
    "sbt", "dotnet", "nuget", "cpan", "cpanm", "opam", "stack", "cabal", "brew",
    "ensurepip",
})
