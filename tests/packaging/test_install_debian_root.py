"""The package installed into a fresh Debian 12 root (debootstrap minbase, cached; see
debian_root.py), the way an operator installs it: `apt-get install ./vigil_*.deb`.

Checked there: `vigil --version`, `vigil config check /etc/vigil/vigil.toml`, the files and
directories the maintainer scripts create, the service enabled the Debian way,
`systemd-analyze verify` of the unit (systemd installed into the root for the analysis
only), and the installed agent running in the foreground with /etc/vigil/vigil.toml on
this machine's kernel (no systemd here). A second root goes through upgrade, remove and
purge. Marked `debian_root`: `make test` runs them (about a minute with the cache; the
first run downloads the base system once).
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Iterator

import pytest

from debian_root import DebianRoot, unavailable_reason
from vigil.sensors.ebpf.sensor import unavailable_reason as ebpf_unavailable_reason

REPO = Path(__file__).resolve().parents[2]
REASON = unavailable_reason()
pytestmark = [pytest.mark.debian_root, pytest.mark.slow,
              pytest.mark.skipif(REASON is not None, reason=REASON or "")]


def version() -> str:
    with open(REPO / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]["version"]


def install(root: DebianRoot, deb: Path) -> None:
    shutil.copyfile(deb, root.file(f"/tmp/{deb.name}"))
    root.apt_install(f"/tmp/{deb.name}")


@pytest.fixture(scope="module")
def installed(built_deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DebianRoot]:
    """A Debian 12 root with the package installed by apt (dependencies resolved)."""
    root = DebianRoot(tmp_path_factory.mktemp("debian12") / "root").create()
    try:
        install(root, built_deb)
        yield root
    finally:
        root.remove()


def test_vigil_version_in_the_installed_root(installed: DebianRoot) -> None:
    for cmd in ("vigil --version", "vigil version", "/opt/vigil/venv/bin/vigil --version"):
        proc = installed.run(cmd)
        assert proc.stdout == f"vigil {version()}\n", cmd
    # dpkg knows it under the same version
    proc = installed.run("dpkg-query -W -f '${Version} ${Status}' vigil")
    assert proc.stdout == f"{version()}-1 install ok installed"


def test_config_check_of_the_installed_configuration(installed: DebianRoot) -> None:
    proc = installed.run("vigil config check /etc/vigil/vigil.toml")
    assert proc.stdout.startswith("/etc/vigil/vigil.toml: OK ("), proc.stdout
    assert "2 falco rule source(s)" in proc.stdout
    # and with no argument, the same default path
    assert installed.run("vigil config check").stdout.startswith("/etc/vigil/vigil.toml: OK")


def test_dependencies_came_from_debian(installed: DebianRoot) -> None:
    proc = installed.run("dpkg-query -W -f '${Status}\\n' python3.11 libbpf1")
    assert proc.stdout.split("\n")[:2] == ["install ok installed"] * 2
    assert installed.run("readlink -f /opt/vigil/venv/bin/python").stdout.strip() \
        == "/usr/bin/python3.11"


def test_postinst_made_the_layout(installed: DebianRoot) -> None:
    env = installed.file("/etc/vigil/vigil.env")
    assert env.is_file() and env.stat().st_mode & 0o777 == 0o600
    assert "VIGIL_TELEGRAM_TOKEN" in env.read_text()
    assert installed.file("/var/lib/vigil").stat().st_mode & 0o777 == 0o700
    assert installed.file("/var/log/vigil").is_dir()
    assert installed.file("/etc/vigil/rules.d").is_dir()
    # enabled the Debian way (deb-systemd-helper), though systemd does not run here
    wants = installed.file("/etc/systemd/system/multi-user.target.wants/vigil.service")
    assert wants.is_symlink() and str(wants.readlink()) == "/lib/systemd/system/vigil.service"


def test_systemd_analyze_verify_accepts_the_unit(installed: DebianRoot) -> None:
    # systemd is not in a minimal root: install it for the analysis only
    installed.apt_install("systemd")
    proc = installed.run("systemd-analyze verify /lib/systemd/system/vigil.service 2>&1",
                         check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == "", proc.stdout
    # and a broken unit is caught by the same command (the check can fail)
    bad = installed.file("/etc/systemd/system/vigil-broken.service")
    bad.write_text((installed.file("/lib/systemd/system/vigil.service").read_text())
                   .replace("ProtectSystem=strict", "ProtectSystem=bogus")
                   .replace("/usr/bin/vigil run", "/usr/bin/vigil-missing run"))
    proc = installed.run("systemd-analyze verify /etc/systemd/system/vigil-broken.service 2>&1",
                         check=False)
    assert proc.returncode != 0
    assert "vigil-missing is not executable" in proc.stdout
    assert "Failed to parse protect system value" in proc.stdout
    bad.unlink()
    # systemd's own exposure score of the sandbox (0 = fully locked down, 10 = none)
    proc = installed.run("systemd-analyze security --offline=true "
                         "/lib/systemd/system/vigil.service 2>&1")
    score = float(proc.stdout.split("Overall exposure level for vigil.service:")[1].split()[0])
    assert score <= 3.0, proc.stdout[-2000:]


EBPF_REASON = ebpf_unavailable_reason()


@pytest.mark.bpf
@pytest.mark.skipif(EBPF_REASON is not None, reason=EBPF_REASON or "")
def test_installed_agent_runs_in_the_foreground_with_the_packaged_config(
        installed: DebianRoot) -> None:
    # No systemd on this machine: the installed /usr/bin/vigil in the foreground, with
    # /etc/vigil/vigil.toml, on this kernel. A sensitive read inside the root while it runs
    # must come out as an incident.
    script = (
        "vigil run --config /etc/vigil/vigil.toml --duration 12 --stats-interval 3 "
        "  >/tmp/run.out 2>/tmp/run.err &\n"
        "pid=$!\n"
        "for i in $(seq 1 100); do grep -q 'watching with' /tmp/run.err && break; sleep 0.1; done\n"
        "for i in 1 2 3; do cat /etc/shadow >/dev/null; sleep 0.5; done\n"
        "wait $pid; echo exit=$?\n"
        "cat /tmp/run.err; echo ===; cat /tmp/run.out\n")
    proc = installed.run(script)
    assert "exit=0" in proc.stdout, proc.stdout
    log, _, incidents = proc.stdout.partition("===")
    assert "eBPF sensor attached" in log
    assert "vigil: watching with ebpf" in log
    assert "/etc/shadow" in incidents, proc.stdout[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    # its state went where the package said it would
    assert any(installed.file("/var/lib/vigil/audit").iterdir())


def test_upgrade_keeps_config_and_state_remove_keeps_them_purge_deletes_them(
        built_deb: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = DebianRoot(tmp_path_factory.mktemp("debian12-lifecycle") / "root").create()
    try:
        install(root, built_deb)
        # the admin's changes
        conf = root.file("/etc/vigil/vigil.toml")
        conf.write_text(conf.read_text().replace("# nice = 10", "nice = 5"))
        root.file("/etc/vigil/vigil.env").write_text("VIGIL_TELEGRAM_TOKEN=secret\n")
        root.file("/etc/vigil/rules.d/local.yaml").write_text("- list: local_bins\n  items: []\n")
        root.file("/var/lib/vigil/audit").mkdir(exist_ok=True)
        root.file("/var/lib/vigil/audit/audit-0001.jsonl").write_text("{}\n")
        # what `systemctl disable vigil` does (systemd is not installed in this root)
        wants = root.file("/etc/systemd/system/multi-user.target.wants/vigil.service")
        assert wants.is_symlink()
        wants.unlink()

        # upgrade (the same package again: dpkg runs the upgrade paths of every script)
        proc = root.run(f"dpkg -i /tmp/{built_deb.name} 2>&1")
        assert "Preparing to unpack" in proc.stdout
        assert "nice = 5" in conf.read_text()
        assert root.file("/etc/vigil/vigil.env").read_text() == "VIGIL_TELEGRAM_TOKEN=secret\n"
        assert root.file("/etc/vigil/rules.d/local.yaml").is_file()
        assert root.file("/var/lib/vigil/audit/audit-0001.jsonl").read_text() == "{}\n"
        # the admin's `disable` survives the upgrade
        assert not wants.is_symlink()
        assert root.run("vigil config check").returncode == 0

        # remove: program gone, configuration and state kept
        root.run("apt-get remove -y -q vigil")
        assert not root.file("/opt/vigil").exists()
        assert not root.file("/usr/bin/vigil").is_symlink()
        assert not root.file("/lib/systemd/system/vigil.service").exists()
        assert "nice = 5" in conf.read_text()
        assert root.file("/etc/vigil/vigil.env").is_file()
        assert root.file("/var/lib/vigil/audit/audit-0001.jsonl").is_file()
        status = root.run("dpkg-query -W -f '${Status}' vigil").stdout
        assert status == "deinstall ok config-files"

        # purge: everything of Vigil's gone
        root.run("dpkg --purge vigil")
        for path in ("/etc/vigil", "/var/lib/vigil", "/var/log/vigil", "/opt/vigil",
                     "/etc/logrotate.d/vigil"):
            assert not root.file(path).exists(), path
        proc = root.run("dpkg-query -W vigil 2>&1", check=False)
        assert proc.returncode != 0
    finally:
        root.remove()


def test_the_cached_root_is_pristine_debian_12(tmp_path: Path) -> None:
    # what the install tests start from: Debian 12 without Python or libbpf, so that apt
    # has to resolve the package's dependencies itself
    root = DebianRoot(tmp_path / "root").create()
    try:
        assert root.file("/etc/debian_version").read_text().startswith("12.")
        assert not root.file("/usr/bin/python3.11").exists()
        proc = root.run("dpkg-query -W -f '${Status}' libbpf1 2>&1", check=False)
        assert "install ok installed" not in proc.stdout
    finally:
        root.remove()
    assert not subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True,
                              text=True).stdout.count(str(tmp_path))
