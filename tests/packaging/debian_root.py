"""A fresh Debian 12 root file system for package tests, and commands run inside it.

The base system comes from `debootstrap --variant=minbase bookworm` (Debian's own
archive, about 30 s) once, and is kept as a tarball in `CACHE_DIR` (outside the
repository, so that fresh clones and CI reuse it); each test root is a new copy of it.
Downloaded .debs are kept in `CACHE_DIR/apt-archives`, bind-mounted as the root's apt
cache, so installing a package's dependencies downloads them once.

Commands run with `unshare --mount` + `chroot`: /proc, /sys and /dev are mounted in a
private mount namespace that dies with the command, so no mount outlives a test even when
it is killed. Needs root, `unshare`/`chroot` (util-linux, coreutils) and `debootstrap`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

CACHE_DIR = Path(os.environ.get("VIGIL_TEST_CACHE", "/var/cache/vigil-tests"))
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
BASE_TARBALL = CACHE_DIR / f"debian-{SUITE}-minbase.tar"


def unavailable_reason() -> str | None:
    """Why a Debian root cannot be made here (one line), or None."""
    if os.geteuid() != 0:
        return f"needs root to chroot (running as uid {os.geteuid()})"
    for tool in ("unshare", "chroot"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    if not BASE_TARBALL.exists() and shutil.which("debootstrap") is None:
        return "debootstrap not installed (make test installs it) and no cached base system"
    return None


def base_tarball() -> Path:
    """The cached base system, made with debootstrap the first time (under a lock, so
    that concurrent test runs make it once)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if BASE_TARBALL.exists():
            return BASE_TARBALL
        work = CACHE_DIR / "debootstrap.tmp"
        shutil.rmtree(work, ignore_errors=True)
        subprocess.run(["debootstrap", "--variant=minbase", SUITE, str(work), MIRROR],
                       check=True, capture_output=True)
        # the package lists are part of the cache: installing needs no `apt-get update`
        # until the archive has moved on (then `DebianRoot.apt_install` updates them)
        shutil.copyfile("/etc/resolv.conf", work / "etc/resolv.conf")
        subprocess.run(["chroot", str(work), "apt-get", "update", "-qq"], check=True,
                       capture_output=True, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        tmp = BASE_TARBALL.with_suffix(".tmp")
        with tarfile.open(tmp, "w") as tar:
            tar.add(work, arcname=".")
        tmp.rename(BASE_TARBALL)
        shutil.rmtree(work, ignore_errors=True)
        return BASE_TARBALL


class DebianRoot:
    """A throw-away Debian 12 root under `path` (made by `create`, removed by `remove`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.archives = CACHE_DIR / "apt-archives"

    def create(self) -> "DebianRoot":
        """Unpack the base system and point apt at the shared download cache."""
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["tar", "-xpf", str(base_tarball()), "-C", str(self.path)], check=True)
        (self.archives / "partial").mkdir(parents=True, exist_ok=True)
        # host name resolution for apt inside the root
        shutil.copyfile("/etc/resolv.conf", self.path / "etc/resolv.conf")
        return self

    def remove(self) -> None:
        """Delete the root (nothing is mounted outside a running command)."""
        shutil.rmtree(self.path, ignore_errors=True)

    def run(self, script: str, *, check: bool = True, timeout: float = 600,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run a shell script inside the root as root; returns its output."""
        mounts = (
            "set -e\n"
            f"R={self.path}\n"
            "mount -t proc proc $R/proc\n"
            "mount --rbind /sys $R/sys\n"
            "mount --rbind /dev $R/dev\n"
            f"mount --bind {self.archives} $R/var/cache/apt/archives\n"
            'exec chroot $R /bin/sh -c "$1"\n'
        )
        full_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                    "DEBIAN_FRONTEND": "noninteractive", "HOME": "/root", **(env or {})}
        proc = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "--fork",
             "/bin/sh", "-c", mounts, "sh", script],
            capture_output=True, text=True, timeout=timeout, env=full_env)
        if check and proc.returncode != 0:
            raise AssertionError(f"in the Debian root, exit {proc.returncode}:\n{script}\n"
                                 f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
        return proc

    def apt_install(self, *packages: str) -> subprocess.CompletedProcess[str]:
        """`apt-get install` inside the root; refreshes the package lists and tries once
        more when the cached lists name versions the archive no longer has."""
        cmd = "apt-get install -y -q --no-install-recommends " + " ".join(packages)
        first = self.run(cmd, check=False)
        if first.returncode == 0:
            return first
        return self.run("apt-get update -qq && " + cmd)

    def file(self, path: str) -> Path:
        """The host path of `path` inside the root."""
        return self.path / path.lstrip("/")
