"""The dynamic allowlist: each key of [allowlist], its matching rules and its validation."""

from __future__ import annotations

import pytest
from suppress_fixtures import connect, detection, proc

from vigil.config_errors import ConfigError
from vigil.detections import Entity
from vigil.events.model import FdInfo
from vigil.suppress.allowlist import Allowlist


def allow(**table) -> Allowlist:
    return Allowlist.from_dict(table)


def label(al: Allowlist, det) -> str | None:
    hit = al.match(det)
    return hit.label if hit else None


# ---- [allowlist] global keys

def test_processes_by_name_path_and_glob() -> None:
    cc = detection(process=proc("/usr/bin/cc"))
    assert label(allow(processes=["cc"]), cc) == "allowlist.processes=cc"
    assert label(allow(processes=["/usr/bin/cc"]), cc) == "allowlist.processes=/usr/bin/cc"
    assert label(allow(processes=["/usr/lib/gcc/*"]), cc) is None
    assert label(allow(processes=["/usr/bin/c?"]), cc) == "allowlist.processes=/usr/bin/c?"
    # a name never matches a path that merely contains it
    assert label(allow(processes=["cc"]), detection(process=proc("/tmp/cc-evil"))) is None
    # a path entry judges the executable, not a process that calls itself the same
    fake = detection(process=proc("/tmp/x", name="cc"))
    assert label(allow(processes=["/usr/bin/cc"]), fake) is None


def test_processes_from_the_entity_when_no_evidence() -> None:
    det = detection(entity=Entity(process="/usr/sbin/unbound"))
    det.evidence.clear()
    assert label(allow(processes=["unbound"]), det) == "allowlist.processes=unbound"


def test_users_match_the_acting_process_or_the_entity() -> None:
    assert label(allow(users=["deploy"]), detection(process=proc("/bin/sh", user="deploy"))) \
        == "allowlist.users=deploy"
    assert label(allow(users=["deploy"]),
                 detection(entity=Entity(user="deploy"))) == "allowlist.users=deploy"
    assert label(allow(users=["deploy"]), detection()) is None


def test_ips_and_cidrs_match_the_entity_ip() -> None:
    det = detection(kind="detector", name="ssh_bruteforce", entity=Entity(ip="10.1.2.3"))
    assert label(allow(ips=["10.1.2.3"]), det) == "allowlist.ips=10.1.2.3"
    assert label(allow(ips=["10.1.2.4"]), det) is None
    assert label(allow(cidrs=["10.0.0.0/8"]), det) == "allowlist.cidrs=10.0.0.0/8"
    assert label(allow(cidrs=["192.168.0.0/16", "fd00::/8"]), det) is None


def test_ips_from_evidence_need_every_remote_address_allowlisted() -> None:
    one = detection(extra_events=[connect("203.0.113.9", 443)])
    two = detection(extra_events=[connect("203.0.113.9", 443), connect("198.51.100.7", 443)])
    assert label(allow(ips=["203.0.113.9"]), one) == "allowlist.ips=203.0.113.9"
    assert label(allow(ips=["203.0.113.9"]), two) is None
    assert label(allow(cidrs=["203.0.113.0/24", "192.0.2.0/24"]), two) is None
    # every address covered, by whichever entries: the first address's entry is named
    assert label(allow(cidrs=["198.51.100.0/24"], ips=["203.0.113.9"]), two) \
        == "allowlist.ips=203.0.113.9"
    assert label(allow(cidrs=["0.0.0.0/0"]), two) == "allowlist.cidrs=0.0.0.0/0"


def test_ports_match_data_port_or_evidence_remote_ports() -> None:
    assert label(allow(ports=[53]), detection(extra_events=[connect("9.9.9.9", 53)])) \
        == "allowlist.ports=53"
    assert label(allow(ports=[53]), detection(extra_events=[connect("9.9.9.9", 3333)])) is None
    assert label(allow(ports=[3333]), detection(data={"port": 3333})) == "allowlist.ports=3333"
    assert label(allow(ports=[53]), detection()) is None


# ---- [allowlist.detectors.<name>]

def exfil_rules(**table) -> Allowlist:
    return allow(detectors={"data_exfil": table})


def test_skip_binaries_applies_only_to_its_detector() -> None:
    al = exfil_rules(skip_binaries=["cc"])
    assert label(al, detection(name="data_exfil", process=proc("/usr/bin/cc"))) \
        == "allowlist.detectors.data_exfil.skip_binaries=cc"
    assert label(al, detection(name="data_exfil", process=proc("/usr/bin/curl"))) is None
    assert label(al, detection(name="webshell", process=proc("/usr/bin/cc"))) is None
    # a Falco rule that happens to share the name is not a detector
    assert label(al, detection(kind="falco", name="data_exfil",
                               process=proc("/usr/bin/cc"))) is None


def test_skip_paths_by_prefix_and_glob() -> None:
    al = allow(detectors={"sensitive_write": {"skip_paths": ["/etc/letsencrypt/",
                                                            "/etc/pam.d/*.dpkg-new"]}})
    def write(path: str):
        return detection(name="sensitive_write", entity=Entity(path=path))
    assert label(al, write("/etc/letsencrypt/live/a/cert.pem")) \
        == "allowlist.detectors.sensitive_write.skip_paths=/etc/letsencrypt/"
    assert label(al, write("/etc/letsencrypt")) is not None
    assert label(al, write("/etc/letsencrypt-evil/x")) is None
    assert label(al, write("/etc/pam.d/sshd.dpkg-new")) is not None
    assert label(al, write("/etc/pam.d/sshd")) is None


def test_skip_paths_from_data_or_evidence_fd() -> None:
    al = allow(detectors={"sensitive_write": {"skip_paths": ["/etc/letsencrypt"]}})
    from_data = detection(name="sensitive_write", data={"path": "/etc/letsencrypt/x"})
    from_fd = detection(name="sensitive_write",
                        fd=FdInfo(type="file", name="/etc/letsencrypt/renewal/a.conf"))
    assert label(al, from_data) is not None
    assert label(al, from_fd) is not None
    assert label(al, detection(name="sensitive_write")) is None


def test_skip_services_matches_data_service() -> None:
    al = allow(detectors={"service_tamper": {"skip_services": ["nginx", "php*-fpm"]}})
    def stop(service: str):
        return detection(name="service_tamper", data={"service": service})
    assert label(al, stop("nginx")) == "allowlist.detectors.service_tamper.skip_services=nginx"
    assert label(al, stop("php8.2-fpm")) is not None
    assert label(al, stop("auditd")) is None


def test_skip_users() -> None:
    al = allow(detectors={"service_tamper": {"skip_users": ["root"]}})
    assert label(al, detection(name="service_tamper", process=proc("/bin/systemctl", user="root"))) \
        == "allowlist.detectors.service_tamper.skip_users=root"
    assert label(al, detection(name="service_tamper", process=proc("/bin/systemctl"))) is None


# ---- [allowlist.rules]

def test_rules_suppress_by_falco_name_or_sigma_id() -> None:
    al = allow(rules={"suppress": ["Run shell untrusted", "5f7a3b2c-0000-4000-8000-000000000001"]})
    falco = detection(kind="falco", name="Run shell untrusted")
    sigma = detection(kind="sigma", name="Suspicious Shell", rule_id="5f7a3b2c-0000-4000-8000-000000000001")
    other = detection(kind="falco", name="Write below etc")
    assert label(al, falco) == "allowlist.rules.suppress=Run shell untrusted"
    assert label(al, sigma) == "allowlist.rules.suppress=5f7a3b2c-0000-4000-8000-000000000001"
    assert label(al, other) is None


def test_rule_names_with_glob_characters_match_literally_too() -> None:
    al = allow(rules={"suppress": ["Launch Privileged Container [k8s]", "Read * untrusted"]})
    assert label(al, detection(kind="falco", name="Launch Privileged Container [k8s]")) \
        == "allowlist.rules.suppress=Launch Privileged Container [k8s]"
    assert label(al, detection(kind="falco", name="Read sensitive file untrusted")) \
        == "allowlist.rules.suppress=Read * untrusted"


# ---- reasons and validation

def test_entries_carry_their_reason() -> None:
    al = allow(processes=[{"value": "cc", "reason": "builds on this host"}, "make"])
    hit = al.match(detection(process=proc("/usr/bin/cc")))
    assert hit is not None and hit.reason == "builds on this host"
    hit = al.match(detection(process=proc("/usr/bin/make")))
    assert hit is not None and hit.reason == ""


@pytest.mark.parametrize("table, key, fragment", [
    ({"ips": ["10.0.0.300"]}, "allowlist.ips[0]", "not an IP address"),
    ({"cidrs": ["10.0.0.0/33"]}, "allowlist.cidrs[0]", "CIDR"),
    ({"ports": [0]}, "allowlist.ports[0]", "port number"),
    ({"ports": ["22"]}, "allowlist.ports[0]", "must be an integer"),
    ({"ports": [True]}, "allowlist.ports[0]", "must be an integer"),
    ({"users": [""]}, "allowlist.users[0]", "must not be empty"),
    ({"users": "root"}, "allowlist.users", "must be an array"),
    ({"users": [{"reason": "x"}]}, "allowlist.users[0]", "needs a 'value'"),
    ({"users": [{"value": "x", "why": "y"}]}, "allowlist.users[0].why", "unknown key"),
    ({"users": [{"value": "x", "reason": 3}]}, "allowlist.users[0].reason", "must be a string"),
    ({"detectors": {"x": {"skip_paths": ["etc/x"]}}}, "allowlist.detectors.x.skip_paths[0]",
     "absolute path"),
    ({"rules": {"supress": ["x"]}}, "allowlist.rules.supress", "unknown key"),
    ({"hosts": ["x"]}, "allowlist.hosts", "unknown key"),
])
def test_invalid_entries_are_config_errors(table: dict, key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        Allowlist.from_dict(table)
    assert info.value.key == key
    assert fragment in info.value.message


def test_unknown_detector_is_an_error_when_the_names_are_known() -> None:
    with pytest.raises(ConfigError, match="unknown detector 'webshel'"):
        Allowlist.from_dict({"detectors": {"webshel": {}}}, detector_names=["webshell"])


def test_empty_allowlist_matches_nothing() -> None:
    assert Allowlist().match(detection()) is None
    assert len(allow(processes=["a"], detectors={"x": {"skip_users": ["b", "c"]}})) == 3


def test_scoped_rule_entries_silence_a_rule_only_where_it_is_normal() -> None:
    """Issue 16 item 5: a rule named *and* the context it is normal in."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "detectors"))
    from detector_factories import init, open_file, proc

    from vigil.detections import Detection, Entity
    from vigil.priority import Priority
    from vigil.suppress.allowlist import Allowlist

    al = Allowlist.from_dict({"rules": {"suppress": [
        {"value": "Log file truncated", "processes": ["/usr/sbin/logrotate"],
         "reason": "rotation empties logs"},
        {"value": "Shell in a build", "parents": ["make", "/usr/bin/ninja"],
         "users": ["ci*"], "reason": "build recipes"},
        {"value": "Write below etc", "paths": ["/etc/nginx/"], "reason": "config deploys"},
        {"value": "Outbound to db", "ips": ["10.1.0.0/16"], "reason": "db subnet"},
    ]}})

    def det(name: str, p, path: str | None = None, ip: str | None = None) -> Detection:
        ev = open_file(p, path or "/var/log/syslog")
        return Detection(kind="falco", name=name, priority=Priority.WARNING, output="x",
                         evidence=[ev], entity=Entity(path=path, ip=ip, user=p.user,
                                                      process=p.name))

    logrotate = proc("/usr/sbin/logrotate", pid=10, parent=init())
    bash = proc("/usr/bin/bash", pid=11, parent=init())
    hit = al.match(det("Log file truncated", logrotate, "/var/log/syslog"))
    assert hit is not None and hit.reason == "rotation empties logs"
    assert hit.label == ("allowlist.rules.suppress=Log file truncated "
                         "(processes=/usr/sbin/logrotate)")
    assert al.match(det("Log file truncated", bash, "/var/log/syslog")) is None
    make = proc("/usr/bin/make", pid=20, parent=init())
    sh = proc("/bin/sh", "-c", "cc x.c", pid=21, parent=make, user="ci-runner", uid=1001)
    assert al.match(det("Shell in a build", sh)) is not None
    root_sh = proc("/bin/sh", pid=22, parent=make)  # user root: not the CI user
    assert al.match(det("Shell in a build", root_sh)) is None
    assert al.match(det("Shell in a build", proc("/bin/sh", pid=23, parent=init(),
                                                 user="ci", uid=1002))) is None
    vi = proc("/usr/bin/vi", pid=30, parent=init())
    assert al.match(det("Write below etc", vi, "/etc/nginx/sites/a.conf")) is not None
    assert al.match(det("Write below etc", vi, "/etc/shadow")) is None
    curl = proc("/usr/bin/curl", pid=40, parent=init())
    assert al.match(det("Outbound to db", curl, ip="10.1.2.3")) is not None
    assert al.match(det("Outbound to db", curl, ip="10.2.0.1")) is None


def test_scoped_entry_errors_are_located() -> None:
    import pytest as _pytest

    from vigil.config_errors import ConfigError
    from vigil.suppress.allowlist import Allowlist

    with _pytest.raises(ConfigError) as e:
        Allowlist.from_dict({"rules": {"suppress": [{"value": "x", "processes": []}]}})
    assert e.value.key == "allowlist.rules.suppress[0].processes"
    with _pytest.raises(ConfigError) as e:
        Allowlist.from_dict({"rules": {"suppress": [{"value": "x", "procs": ["a"]}]}})
    assert "procs" in str(e.value)
    with _pytest.raises(ConfigError) as e:
        Allowlist.from_dict({"rules": {"suppress": [{"value": "x", "ips": ["nope"]}]}})
    assert e.value.key == "allowlist.rules.suppress[0].ips[0]"
