#!/usr/bin/env python3
"""Build the `vigil` Debian package (`make deb`): Vigil in its own venv under /opt/vigil.

Why this way (docs/install.md, "How the package is built"): Vigil's dependencies (pySigma,
msgspec, typer, ...) are mostly not packaged by Debian 12 at the versions Vigil needs, so
the package carries them in a private venv built from PyPI wheels at package time, pinned
by `packaging/constraints.txt`, with Debian's own python3.11 as its interpreter. The tree
is laid out here and archived with `dpkg-deb`: no debhelper, no build dependencies beyond
python3-venv and dpkg, one script to read.

Steps: build Vigil's wheel (with the CO-RE BPF object, built before by `make bpf`), create
the venv at its staging path, install the wheel with its pinned dependencies, make the venv
relocatable to /opt/vigil/venv (shebangs, pyvenv.cfg, byte code), add the unit, the
configuration, the maintainer scripts and the docs, write DEBIAN/control, run dpkg-deb.
"""

from __future__ import annotations

import argparse
import email.parser
import gzip
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HERE = REPO / "packaging"
DEBIAN_FILES = HERE / "debian"

PACKAGE = "vigil"
PREFIX = Path("/opt/vigil")
VENV = PREFIX / "venv"
#: the interpreter of Debian 12; the venv links to it, so the package depends on it
DEFAULT_PYTHON = "/usr/bin/python3.11"
#: besides the interpreter: libbpf.so.1 is loaded by the eBPF sensor through ctypes
DEPENDS = ("python3.11", "libbpf1")
RECOMMENDS = ("logrotate",)
MAINTAINER = "Vigil maintainers <vigil@localhost>"

#: packaged file -> (source, mode)
STATIC_FILES: dict[str, tuple[Path, int]] = {
    "lib/systemd/system/vigil.service": (DEBIAN_FILES / "vigil.service", 0o644),
    "etc/vigil/vigil.toml": (DEBIAN_FILES / "vigil.toml", 0o644),
    "etc/logrotate.d/vigil": (DEBIAN_FILES / "logrotate", 0o644),
    "usr/share/doc/vigil/copyright": (DEBIAN_FILES / "copyright", 0o644),
    "usr/share/doc/vigil/README.md": (REPO / "README.md", 0o644),
    "usr/share/doc/vigil/install.md": (REPO / "docs" / "install.md", 0o644),
    "usr/share/doc/vigil/config.md": (REPO / "docs" / "config.md", 0o644),
    "usr/share/doc/vigil/cli.md": (REPO / "docs" / "cli.md", 0o644),
    "usr/share/doc/vigil/detectors.md": (REPO / "docs" / "detectors.md", 0o644),
    "usr/share/doc/vigil/alerts.md": (REPO / "docs" / "alerts.md", 0o644),
    "usr/share/doc/vigil/vigil.example.toml": (REPO / "vigil.example.toml", 0o644),
}
#: dpkg keeps local changes to these across upgrades (and asks when both changed)
CONFFILES = ("/etc/vigil/vigil.toml", "/etc/logrotate.d/vigil")
MAINTAINER_SCRIPTS = ("postinst", "prerm", "postrm")
#: empty directories the package owns
DIRECTORIES = ("etc/vigil/rules.d",)


class BuildError(Exception):
    """A step failed; the message says which and why."""


@dataclass(frozen=True)
class PackageVersion:
    """`<upstream>-<revision>`, upstream from pyproject.toml."""

    upstream: str
    revision: str

    def __str__(self) -> str:
        return f"{self.upstream}-{self.revision}"


def upstream_version() -> str:
    """The version in pyproject.toml (the one place it is set)."""
    with open(REPO / "pyproject.toml", "rb") as fh:
        return str(tomllib.load(fh)["project"]["version"])


def changelog_version(changelog: Path = DEBIAN_FILES / "changelog") -> str:
    """The version of the newest entry of the Debian changelog."""
    first = changelog.read_text(encoding="utf-8").splitlines()[0]
    m = re.match(rf"^{PACKAGE} \(([^)]+)\)", first)
    if not m:
        raise BuildError(f"{changelog}:1: not a changelog entry header: {first!r}")
    return m.group(1)


def run(cmd: list[str], **kw: object) -> None:
    """Run one build command; its failure is a `BuildError` naming it."""
    print("+", " ".join(cmd), flush=True)
    try:
        subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BuildError(f"{cmd[0]} failed: {exc}") from None


def build_wheel(python: str, work: Path) -> Path:
    """Vigil's own wheel, built from the source tree (includes the BPF objects)."""
    for name in ("vigil.bpf.o", "vigil-compat.bpf.o"):
        bpf_object = REPO / "src/vigil/sensors/ebpf" / name
        if not bpf_object.is_file():
            raise BuildError(f"{bpf_object} missing: run `make bpf` first")
    tool = work / "wheel-tool"
    run([python, "-m", "venv", str(tool)])
    out = work / "wheels"
    shutil.rmtree(out, ignore_errors=True)
    run([str(tool / "bin/pip"), "wheel", "-q", "--no-deps", "-w", str(out), str(REPO)])
    wheels = sorted(out.glob("vigil_hids-*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"expected one vigil_hids wheel in {out}, found {wheels}")
    return wheels[0]


def build_venv(python: str, root: Path, wheel: Path) -> Path:
    """The venv at `<root>/opt/vigil/venv` with Vigil and its pinned dependencies."""
    venv = root / VENV.relative_to("/")
    run([python, "-m", "venv", str(venv)])
    run([str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check",
         "--only-binary=:all:", "-c", str(HERE / "constraints.txt"), str(wheel)])
    # the installer is not needed at run time; the package is upgraded as a whole
    run([str(venv / "bin/python"), "-m", "pip", "uninstall", "-q", "-y", "pip", "setuptools"])
    return venv


def relocate_venv(root: Path, venv: Path) -> None:
    """Point everything that names the staging path at /opt/vigil/venv instead."""
    staged = str(venv).encode()
    final = str(VENV).encode()
    # only `vigil` and the interpreter links stay in bin/: the activate scripts name the
    # staging path, and the dependencies' own commands (httpx, typer, ...) are not ours
    for path in (venv / "bin").iterdir():
        if path.name != "vigil" and not path.name.startswith("python"):
            path.unlink()
    for path in [*(venv / "bin").iterdir(), venv / "pyvenv.cfg"]:
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if staged in data:
            path.write_bytes(data.replace(staged, final))
    # pip compiled the byte code with staging paths in it (tracebacks would name them):
    # compile again as if the files were in /opt/vigil
    for cache in venv.rglob("__pycache__"):
        shutil.rmtree(cache)
    run([str(venv / "bin/python"), "-m", "compileall", "-q", "-j", "0",
         "-s", str(root), "-p", "/", str(venv / "lib")])
    leftovers = [str(p) for p in venv.rglob("*") if p.is_file() and not p.is_symlink()
                 and p.suffix in ("", ".py", ".cfg", ".txt") and staged in p.read_bytes()]
    if leftovers:
        raise BuildError(f"staging path still named in: {', '.join(leftovers[:5])}")


def install_static_files(root: Path) -> None:
    """Unit, configuration, logrotate, docs; /usr/bin/vigil; owned empty directories."""
    for target, (source, mode) in STATIC_FILES.items():
        dest = root / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
        dest.chmod(mode)
    changelog = root / "usr/share/doc/vigil/changelog.Debian.gz"
    with gzip.GzipFile(changelog, "wb", mtime=0) as fh:
        fh.write((DEBIAN_FILES / "changelog").read_bytes())
    changelog.chmod(0o644)
    for d in DIRECTORIES:
        (root / d).mkdir(parents=True, exist_ok=True)
    usr_bin = root / "usr/bin"
    usr_bin.mkdir(parents=True, exist_ok=True)
    (usr_bin / "vigil").symlink_to(VENV / "bin" / "vigil")


def architecture() -> str:
    """dpkg's name of this machine's architecture (the venv has compiled extensions)."""
    return subprocess.run(["dpkg", "--print-architecture"], check=True, capture_output=True,
                          text=True).stdout.strip()


def installed_size_kib(root: Path) -> int:
    """Installed-Size: the size of the files, in KiB, as dpkg-gencontrol counts it."""
    total = 0
    for path in root.rglob("*"):
        if path.is_relative_to(root / "DEBIAN"):
            continue
        total += 1 if path.is_symlink() or path.is_dir() else -(-path.stat().st_size // 1024)
    return total


def wheel_summary(wheel: Path) -> str:
    """The one-line summary from the wheel's metadata (pyproject's description)."""
    import zipfile
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        msg = email.parser.Parser().parsestr(zf.read(meta).decode("utf-8"))
    return str(msg["Summary"])


def write_control(root: Path, version: PackageVersion, summary: str) -> None:
    """DEBIAN/control, conffiles and the maintainer scripts."""
    debian = root / "DEBIAN"
    debian.mkdir(parents=True, exist_ok=True)
    control = (
        f"Package: {PACKAGE}\n"
        f"Version: {version}\n"
        f"Architecture: {architecture()}\n"
        f"Maintainer: {MAINTAINER}\n"
        f"Installed-Size: {installed_size_kib(root)}\n"
        f"Depends: {', '.join(DEPENDS)}\n"
        f"Recommends: {', '.join(RECOMMENDS)}\n"
        "Section: admin\n"
        "Priority: optional\n"
        f"Description: {summary}\n"
        " Vigil watches the kernel through its own CO-RE eBPF program and the SSH and sudo\n"
        " logs, decides with Falco-compatible rules, Sigma rules and stateful detectors\n"
        " what is an attack, keeps every suppressed detection in a hash-chained audit\n"
        " trail, and delivers alerts to Telegram, Slack, webhooks, Falcosidekick or syslog.\n"
        " .\n"
        " This package runs it as vigil.service, from its own Python environment in\n"
        " /opt/vigil.\n")
    (debian / "control").write_text(control, encoding="utf-8")
    (debian / "conffiles").write_text("".join(f"{c}\n" for c in CONFFILES), encoding="utf-8")
    for name in MAINTAINER_SCRIPTS:
        dest = debian / name
        shutil.copyfile(DEBIAN_FILES / name, dest)
        dest.chmod(0o755)


def build(out_dir: Path, work: Path, python: str, revision: str) -> Path:
    """Build the package; returns the path of the .deb."""
    version = PackageVersion(upstream_version(), revision)
    if changelog_version() != str(version):
        raise BuildError(f"packaging/debian/changelog: the newest entry is "
                         f"{changelog_version()}, the package is {version}: add an entry")
    if not Path(python).is_file():
        raise BuildError(f"{python} missing (Debian 12's python3.11; apt-get install "
                         f"python3.11-venv)")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    root = work / "root"
    wheel = build_wheel(python, work)
    venv = build_venv(python, root, wheel)
    relocate_venv(root, venv)
    install_static_files(root)
    write_control(root, version, wheel_summary(wheel))
    out_dir.mkdir(parents=True, exist_ok=True)
    deb = out_dir / f"{PACKAGE}_{version}_{architecture()}.deb"
    # umask-independent modes: directories 0755, files as set above
    for path in root.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    run(["dpkg-deb", "--root-owner-group", "-Zxz", "-z6", "--build", str(root), str(deb)])
    return deb


def main(argv: list[str] | None = None) -> int:
    """Command line of `make deb`."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "dist", help="where the .deb goes")
    ap.add_argument("--work", type=Path, default=REPO / "build" / "deb",
                    help="staging directory (emptied first)")
    ap.add_argument("--python", default=DEFAULT_PYTHON, help="interpreter of the venv")
    ap.add_argument("--revision", default="1", help="Debian revision of the package")
    args = ap.parse_args(argv)
    os.umask(0o022)
    try:
        deb = build(args.out, args.work, args.python, args.revision)
    except BuildError as exc:
        print(f"make deb: {exc}", file=sys.stderr)
        return 1
    print(deb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
