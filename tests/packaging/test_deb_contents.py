"""The package `make deb` builds: control data, file list, venv, maintainer scripts.

Nothing is installed here (`dpkg-deb -x` / `-e` into temporary directories); the
installation itself is tested in a Debian 12 root by test_install_debian_root.py.
"""

from __future__ import annotations

import email.parser
import os
import re
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest

from vigil.config import parse_config

REPO = Path(__file__).resolve().parents[2]


def control_fields(deb_control: Path) -> dict[str, str]:
    msg = email.parser.Parser().parsestr((deb_control / "control").read_text())
    return {k: str(v) for k, v in msg.items()}


def pyproject() -> dict:
    with open(REPO / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]


def test_control_names_package_version_architecture_and_dependencies(deb_control: Path) -> None:
    fields = control_fields(deb_control)
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert fields["Package"] == "vigil"
    assert fields["Version"] == f"{pyproject()['version']}-1"
    assert fields["Architecture"] == arch
    depends = [d.strip() for d in fields["Depends"].split(",")]
    assert depends == ["python3.11", "libbpf1"]
    assert int(fields["Installed-Size"]) > 1000
    assert fields["Description"].startswith(pyproject()["description"])


def test_the_file_name_follows_debian_convention(built_deb: Path, deb_control: Path) -> None:
    fields = control_fields(deb_control)
    assert built_deb.name == f"vigil_{fields['Version']}_{fields['Architecture']}.deb"


def test_conffiles_are_the_configuration_and_logrotate(deb_control: Path,
                                                       deb_tree: Path) -> None:
    conffiles = (deb_control / "conffiles").read_text().split()
    assert conffiles == ["/etc/vigil/vigil.toml", "/etc/logrotate.d/vigil"]
    for c in conffiles:
        assert (deb_tree / c.lstrip("/")).is_file()
    # secrets are never shipped: postinst creates vigil.env (0600) when it is missing
    assert not (deb_tree / "etc/vigil/vigil.env").exists()


def test_expected_files_are_shipped(deb_tree: Path) -> None:
    for path in ("lib/systemd/system/vigil.service", "etc/vigil/vigil.toml",
                 "etc/logrotate.d/vigil", "usr/share/doc/vigil/copyright",
                 "usr/share/doc/vigil/changelog.Debian.gz", "usr/share/doc/vigil/install.md",
                 "opt/vigil/venv/pyvenv.cfg", "opt/vigil/venv/bin/vigil"):
        assert (deb_tree / path).is_file(), path
    assert (deb_tree / "etc/vigil/rules.d").is_dir()
    assert os.readlink(deb_tree / "usr/bin/vigil") == "/opt/vigil/venv/bin/vigil"
    # the venv runs on Debian's interpreter, which the package depends on
    assert os.readlink(deb_tree / "opt/vigil/venv/bin/python3.11") == "/usr/bin/python3.11"
    bins = sorted(p.name for p in (deb_tree / "opt/vigil/venv/bin").iterdir())
    assert bins == ["python", "python3", "python3.11", "vigil"]


def test_the_bpf_objects_are_the_ones_built_from_the_source(deb_tree: Path) -> None:
    site = deb_tree / "opt/vigil/venv/lib/python3.11/site-packages"
    for name in ("vigil.bpf.o", "vigil-compat.bpf.o"):
        packaged = site / "vigil/sensors/ebpf" / name
        source = REPO / "src/vigil/sensors/ebpf" / name
        assert packaged.read_bytes() == source.read_bytes()
    assert (site / "vigil/defaults/vigil_rules.yaml").is_file()


def test_the_venv_is_relocated_to_opt_vigil(deb_tree: Path) -> None:
    venv = deb_tree / "opt/vigil/venv"
    script = (venv / "bin/vigil").read_text()
    assert script.startswith("#!/opt/vigil/venv/bin/python3.11\n")
    cfg = (venv / "pyvenv.cfg").read_text()
    assert "home = /usr/bin" in cfg and "build" not in cfg
    # byte code compiled for /opt/vigil: a traceback names the installed file
    import marshal
    pyc = next((venv / "lib/python3.11/site-packages/vigil/__pycache__").glob("cli.*.pyc"))
    code = marshal.loads(pyc.read_bytes()[16:])
    assert code.co_filename == "/opt/vigil/venv/lib/python3.11/site-packages/vigil/cli.py"


def test_no_installer_and_every_dependency_pinned(deb_tree: Path) -> None:
    site = deb_tree / "opt/vigil/venv/lib/python3.11/site-packages"
    installed = {p.name.split("-")[0].lower().replace("_", "-")
                 for p in site.glob("*.dist-info")}
    assert "pip" not in installed and "setuptools" not in installed
    pins = {}
    for line in (REPO / "packaging/constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, ver = line.partition("==")
            pins[name.lower().replace("_", "-")] = ver
    for dep in pyproject()["dependencies"]:
        name = dep.split(">")[0].split("=")[0].split("<")[0].strip().lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in packaging/constraints.txt"
    for dist in site.glob("*.dist-info"):
        meta = email.parser.Parser().parsestr((dist / "METADATA").read_text())
        name = str(meta["Name"]).lower().replace("_", "-")
        if name != "vigil-hids":
            assert pins.get(name) == str(meta["Version"]), f"{name} {meta['Version']}"


def test_maintainer_scripts_are_executable_posix_shell(deb_control: Path) -> None:
    for name in ("postinst", "prerm", "postrm"):
        script = deb_control / name
        assert script.stat().st_mode & 0o777 == 0o755
        assert script.read_text().startswith("#!/bin/sh\n")
        subprocess.run(["sh", "-n", str(script)], check=True)
        assert "set -e" in script.read_text()


def test_postrm_keeps_state_on_remove_and_deletes_it_on_purge(deb_control: Path) -> None:
    text = (deb_control / "postrm").read_text()
    purge_branch = text.split("\npurge)")[1].split(";;")[0]
    assert "rm -rf /etc/vigil /var/lib/vigil /var/log/vigil" in purge_branch
    remove_branch = text.split("\nremove)")[1].split(";;")[0]
    assert "rm " not in remove_branch


def test_the_packaged_configuration_is_valid_and_loads_rules_d(deb_tree: Path) -> None:
    text = (deb_tree / "etc/vigil/vigil.toml").read_text()
    # inside the unpacked tree: /etc/vigil/rules.d becomes the tree's copy
    local = text.replace('"/etc/vigil/rules.d"', f'"{deb_tree}/etc/vigil/rules.d"')
    cfg = parse_config(local, deb_tree / "etc/vigil/vigil.toml")
    assert cfg.rules.falco == ("builtin", f"{deb_tree}/etc/vigil/rules.d")
    assert cfg.alerts is not None


def test_the_commented_values_of_the_packaged_configuration_are_the_defaults(
        deb_tree: Path) -> None:
    text = (deb_tree / "etc/vigil/vigil.toml").read_text()
    text = text.replace('"/etc/vigil/rules.d"', f'"{deb_tree}/etc/vigil/rules.d"')
    settings, _, alert_examples = text.partition("# Alerts:")
    key_line = re.compile(r"^# ([a-z_]+ = .*)$", re.MULTILINE)
    uncommented = key_line.sub(r"\1", settings)
    assert len(key_line.findall(settings)) >= 20
    path = deb_tree / "etc/vigil/vigil.toml"
    as_shipped, every_default = parse_config(text, path), parse_config(uncommented, path)
    for section in ("state_dir", "hostname", "nice", "sensors", "rules", "baseline",
                    "audit", "metrics"):
        assert getattr(every_default, section) == getattr(as_shipped, section), section
    assert len(every_default.allowlist) == len(as_shipped.allowlist) == 0
    # the alert examples are valid too once uncommented (the prose around them is not TOML)
    toml_line = re.compile(r"^# (\[.*\]|[a-z_]+ = .*)$", re.MULTILINE)
    examples = "\n".join(m.group(1) for m in toml_line.finditer(alert_examples))
    assert "[alerts.sinks.telegram]" in examples and "[[alerts.routes]]" in examples
    example_cfg = parse_config(settings + examples, path)
    assert set(example_cfg.alerts.sinks) == {"telegram", "file"}


def test_packaged_files_have_sane_modes(deb_tree: Path) -> None:
    for path in deb_tree.rglob("*"):
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        assert not mode & stat.S_IWOTH, path
        assert not mode & (stat.S_ISUID | stat.S_ISGID), path
