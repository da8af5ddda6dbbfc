"""`SshBruteforceDetector` fed by parsed log lines (the real parser, event-time clock)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sys

import pytest
import yaml

from vigil.config_errors import ConfigError
from vigil.detectors.base import Detector
from vigil.detectors.ssh_bruteforce import SshBruteforceDetector, SshBruteforceParams
from vigil.priority import Priority

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "alerts"))
from alerts_factories import CaptureSink, Harness  # noqa: E402
from vigil.sensors.authparse import parse_syslog_line

T0 = datetime(2026, 11, 25, 23, 0, tzinfo=timezone.utc)
NOW = (T0 + timedelta(days=1)).timestamp()


def stamp(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%b %e %H:%M:%S")


def sshd(seconds: float, pid: int, msg: str) -> str:
    return f"{stamp(seconds)} web sshd[{pid}]: {msg}"


def failed(seconds: float, ip: str, user: str = "root", pid: int | None = None,
           port: int = 40000) -> str:
    return sshd(seconds, pid or int(seconds) + 1000, f"Failed password for {user} from {ip} port {port} ssh2")


def run(lines: list[str], det: SshBruteforceDetector | None = None):
    det = det or SshBruteforceDetector()
    out = []
    for line in lines:
        ev = parse_syslog_line(line, now=NOW, tz=timezone.utc)
        assert ev is not None, line
        out += det.on_event(ev)
    return out


def night_lines() -> tuple[list[str], str]:
    """49 failures from 12 IPs, one IP with 23, spread over a night."""
    top = "185.220.101.7"
    lines = [failed(i * 20, top, user=["root", "admin", "ubuntu"][i % 3], pid=2000 + i)
             for i in range(23)]
    small = [3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2]
    t = 3600.0
    for k, n in enumerate(small):
        for j in range(n):
            t += 400  # slow scanners: far apart
            lines.append(failed(t, f"203.0.113.{10 + k}", user="root", pid=3000 + int(t)))
    return sorted(lines, key=lambda l: parse_syslog_line(l, now=NOW, tz=timezone.utc).ts), top


def test_is_a_detector() -> None:
    assert isinstance(SshBruteforceDetector(), Detector)
    assert "auth.ssh_failed" in SshBruteforceDetector.event_types


def test_night_49_attempts_from_12_ips_top_23() -> None:
    lines, top = night_lines()
    dets = run(lines)
    assert len(dets) == 49
    by_ip = Counter(d.entity.ip for d in dets)
    assert len(by_ip) == 12 and by_ip.most_common(1) == [(top, 23)]
    assert all(d.name == "ssh_bruteforce" and d.kind == "detector" for d in dets)
    assert all(d.data["unit"] == "attempts" and "T1110" in d.tags for d in dets)
    top_dets = [d for d in dets if d.entity.ip == top]
    assert [d.rule_id for d in top_dets[:4]] == ["ssh_bruteforce.attempt"] * 4
    assert {d.rule_id for d in top_dets[4:]} == {"ssh_bruteforce.per_ip"}
    assert top_dets[4].priority == Priority.WARNING and len(top_dets[4].evidence) == 5
    others = [d for d in dets if d.entity.ip != top]
    # three slow scanners on root make it a distributed attack on that account
    assert {d.rule_id for d in others} <= {"ssh_bruteforce.attempt", "ssh_bruteforce.distributed"}
    assert all(d.priority == Priority.NOTICE for d in others if d.rule_id.endswith("attempt"))


def test_night_summary_through_the_alert_batcher(tmp_path) -> None:
    """The detector's detections through the real correlation stage and alert pipeline:
    one incident per attacking IP, one first message, the rest in one summary."""
    lines, top = night_lines()
    sink = CaptureSink("out")
    h = Harness(tmp_path, {"sinks": {"out": {"type": "stdout"}},
                           "routes": [{"name": "ops", "sink": "out",
                                       "batch_window_secs": 12 * 3600}]},
                sinks={"out": sink})
    h.feed(run(lines))
    # one story per attacking IP while it is active (a slow scanner's quiet hours close
    # its incident; its next attempt opens a new one)
    ips = {e.incident.id: e.incident.entities.remote_ips for e in h.events}
    assert all(len(v) == 1 for v in ips.values())
    assert len({v[0] for v in ips.values()}) == 12
    assert [a.kind for a in sink.alerts] == ["incident"]  # the rest are held
    h.finish()
    assert [a.kind for a in sink.alerts] == ["incident", "summary"]
    text = sink.alerts[1].text
    assert text.startswith("SSH brute force: 49 attempts from 12 IPs"), text
    assert f"Top attacker: {top} (23 attempts)" in text


def test_one_guess_logged_as_several_lines_counts_once() -> None:
    ip = "198.51.100.9"
    lines = [
        sshd(0, 77, "Invalid user oracle from 198.51.100.9 port 5000"),
        sshd(1, 77, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.9"),
        sshd(2, 77, "Failed password for invalid user oracle from 198.51.100.9 port 5000 ssh2"),
        sshd(3, 77, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.9"),
        sshd(4, 77, "Failed password for invalid user oracle from 198.51.100.9 port 5000 ssh2"),
        sshd(5, 77, "Connection closed by invalid user oracle 198.51.100.9 port 5000 [preauth]"),
        sshd(6, 78, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.9  user=root"),
        sshd(7, 78, "Failed password for root from 198.51.100.9 port 5001 ssh2"),
        sshd(8, 78, "Disconnected from authenticating user root 198.51.100.9 port 5001 [preauth]"),
        # a client that gave up before typing any password: one attempt for the connection
        sshd(9, 79, "Connection closed by authenticating user admin 198.51.100.9 port 5002 [preauth]"),
    ]
    dets = run(lines)
    # the second PAM line names no user (unknown account): the connection named it
    assert [d.entity.user for d in dets] == ["oracle", "oracle", "root", "admin"]
    assert all(d.entity.ip == ip for d in dets)


def test_probes_without_a_user_are_not_attempts_unless_configured() -> None:
    lines = [sshd(i, 100 + i, f"Connection closed by 192.0.2.50 port {4000 + i} [preauth]")
             for i in range(10)]
    assert run(lines) == []
    dets = run(lines, SshBruteforceDetector(SshBruteforceParams(count_probes=True)))
    assert len(dets) == 10 and dets[-1].rule_id == "ssh_bruteforce.per_ip"


def test_window_slides() -> None:
    ip = "192.0.2.8"
    lines = [failed(i, ip) for i in range(4)] + [failed(601 + 3, ip)]
    assert [d.rule_id for d in run(lines)] == ["ssh_bruteforce.attempt"] * 5
    lines = [failed(i, ip) for i in range(4)] + [failed(599, ip)]
    assert run(lines)[-1].rule_id == "ssh_bruteforce.per_ip"


def test_success_after_burst_is_critical() -> None:
    ip = "192.0.2.77"
    lines = [failed(i * 10, ip, user="deploy") for i in range(6)]
    lines.append(sshd(70, 555, f"Accepted password for deploy from {ip} port 4444 ssh2"))
    lines.append(sshd(80, 556, f"Accepted password for deploy from {ip} port 4445 ssh2"))
    dets = run(lines)
    crit = [d for d in dets if d.priority == Priority.CRITICAL]
    assert len(crit) == 1  # the second session is not a new finding
    c = crit[0]
    assert c.rule_id == "ssh_bruteforce.success_after_burst" and "T1078" in c.tags
    assert c.entity.ip == ip and c.entity.user == "deploy"
    assert len(c.evidence) == 7 and c.evidence[-1].type == "auth.ssh_accepted"


def test_success_after_a_typo_or_from_another_ip_is_quiet() -> None:
    lines = [failed(0, "192.0.2.1", user="alice"), failed(5, "192.0.2.1", user="alice"),
             sshd(9, 600, "Accepted password for alice from 192.0.2.1 port 1 ssh2")]
    assert [d.priority for d in run(lines)] == [Priority.NOTICE, Priority.NOTICE]
    burst = [failed(i, "192.0.2.66") for i in range(8)]
    burst.append(sshd(20, 601, "Accepted publickey for alice from 192.0.2.2 port 1 ssh2: ED25519 SHA256:x"))
    assert all(d.priority != Priority.CRITICAL for d in run(burst))


def test_distributed_attack_on_one_account() -> None:
    lines = [failed(i * 60, f"198.51.100.{i + 1}", user="admin") for i in range(6)]
    dets = run(lines)
    assert [d.rule_id for d in dets[:4]] == ["ssh_bruteforce.attempt"] * 4
    assert dets[4].rule_id == dets[5].rule_id == "ssh_bruteforce.distributed"
    assert dets[4].priority == Priority.WARNING and dets[5].data["account_ips"] == 6


def test_user_enumeration() -> None:
    users = ["oracle", "postgres", "hadoop", "git", "test", "ftp"]
    lines = [sshd(i * 200, 900 + i, f"Invalid user {u} from 192.0.2.99 port {5000 + i}")
             for i, u in enumerate(users[:3])]
    dets = run(lines, SshBruteforceDetector(SshBruteforceParams(max_failures=50, enum_users=3)))
    assert dets[-1].rule_id == "ssh_bruteforce.user_enum" and "T1589" in dets[-1].tags


def test_fake_address_in_user_name_is_not_blamed() -> None:
    lines = [sshd(i, 10 + i, "Invalid user x from 10.9.9.9 port 22 from 192.0.2.5 port 7000")
             for i in range(5)]
    dets = run(lines)
    assert {d.entity.ip for d in dets} == {"192.0.2.5"}
    assert dets[-1].rule_id == "ssh_bruteforce.per_ip"


def _fixture_lines(shared_dir: Path, name: str) -> list[str]:
    folder = shared_dir / "fixtures" / "ssh" / "crowdsec" / name
    cfg = yaml.safe_load((folder / "config.yaml").read_text())
    return [l for l in (folder / cfg["log_file"]).read_text().splitlines() if l.strip()]


@pytest.mark.parametrize("name,rule", [("ssh-bf", "ssh_bruteforce.per_ip"),
                                       ("sshd-invalid-bf", "ssh_bruteforce.per_ip"),
                                       ("ssh-slow-bf", "ssh_bruteforce.per_ip")])
def test_crowdsec_brute_force_scenarios_fire(shared_dir: Path, name: str, rule: str) -> None:
    dets = run(_fixture_lines(shared_dir, name))
    assert rule in {d.rule_id for d in dets}


def test_crowdsec_ssh_bf_also_shows_user_enumeration(shared_dir: Path) -> None:
    dets = run(_fixture_lines(shared_dir, "ssh-bf"))
    assert any(d.data["user_enum"] for d in dets)


def test_crowdsec_success_logs_are_quiet(shared_dir: Path) -> None:
    assert run(_fixture_lines(shared_dir, "sshd-success-logs")) == []


def test_params_from_dict() -> None:
    p = SshBruteforceParams.from_dict({"max_failures": 10, "window_seconds": 60})
    assert p.max_failures == 10 and p.window_seconds == 60
    with pytest.raises(ConfigError) as err:
        SshBruteforceParams.from_dict({"maxretry": 3})
    assert "detectors.ssh_bruteforce" in str(err.value)
    with pytest.raises(ConfigError):
        SshBruteforceParams.from_dict({"max_failures": 0})


def test_state_stays_bounded() -> None:
    det = SshBruteforceDetector(SshBruteforceParams(max_tracked=100))
    run([failed(i * 0.01, f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}", pid=i + 1)
         for i in range(1000)], det)
    assert len(det._by_ip) <= 100 and len(det._connections) <= 100


def test_night_auth_log_fixture_through_sensor_and_detector(tmp_path: Path) -> None:
    """tests/logs/fixtures/night-auth.log: a night as sshd logs it (PAM + Failed + closed
    lines per guess, health checks, deploy logins, sudo, cron): 49 guesses, 12 IPs, top 23."""
    from vigil.sensors.authlog import AuthLogSensor
    fixture = Path(__file__).parent / "fixtures" / "night-auth.log"
    sensor = AuthLogSensor([str(fixture)], None, start_at_end=False, now=lambda: NOW)
    sensor.start()
    events = sensor.read(0)
    sensor.stop()
    det = SshBruteforceDetector()
    dets = [d for ev in events for d in det.on_event(ev)]
    by_ip = Counter(d.entity.ip for d in dets)
    assert len(dets) == 49 and len(by_ip) == 12
    assert by_ip.most_common(1) == [("185.220.101.47", 23)]
    assert not any(d.priority == Priority.CRITICAL for d in dets)
    assert {d.rule_id for d in dets if d.entity.ip == "185.220.101.47"} >= {"ssh_bruteforce.per_ip"}


# -- time: one mis-stamped line must not reset counts (issue 14, item 3) -----------------

def iso(seconds: float, ns: int = 0) -> str:
    t = T0 + timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns:09d}+00:00"


def failed_iso(seconds: float, ip: str, pid: int, ns: int = 0) -> str:
    return (f"{iso(seconds, ns)} web sshd[{pid}]: Failed password for root from {ip} port "
            f"{40000 + pid % 1000} ssh2")


def rule_ids(lines: list[str], det: SshBruteforceDetector | None = None) -> list[tuple[str, str]]:
    return [(d.entity.ip, d.rule_id) for d in run(lines, det)]


def test_a_line_from_another_ip_stamped_15_minutes_ahead_does_not_reset_the_count() -> None:
    a, b = "192.0.2.10", "198.51.100.99"
    lines = [failed(i, a, pid=100 + i) for i in range(4)]
    lines.append(failed(4 + 15 * 60, b, pid=200))   # another host's skewed clock, say
    lines.append(failed(5, a, pid=105))
    got = rule_ids(lines)
    assert got[-1] == (a, "ssh_bruteforce.per_ip"), got
    assert got[4] == (b, "ssh_bruteforce.attempt")


def test_an_old_stamped_line_from_the_same_ip_is_counted_at_the_clock() -> None:
    a = "192.0.2.11"
    lines = [failed(3600 + i, a, pid=100 + i) for i in range(4)]
    lines.append(failed(0, a, pid=104))             # an hour in the past
    lines.append(failed(3605, a, pid=105))
    dets = run(lines)
    assert [d.rule_id for d in dets] == ["ssh_bruteforce.attempt"] * 4 + \
        ["ssh_bruteforce.per_ip"] * 2
    assert dets[4].data["stamp"] == "untrusted_past" and dets[4].data["ip_attempts"] == 5
    assert dets[5].data["ip_attempts"] == 6 and "stamp" not in dets[5].data


def test_a_jump_confirmed_by_the_next_line_moves_the_clock() -> None:
    a, b = "192.0.2.12", "198.51.100.12"
    det = SshBruteforceDetector()
    run([failed(i, a, pid=100 + i) for i in range(4)], det)
    # the log resumes an hour later: two lines agree, so the clock moves and A's old
    # attempts are out of the window
    dets = run([failed(3600, b, pid=200), failed(3601, b, pid=201), failed(3602, a, pid=202)], det)
    assert dets[0].data["stamp"] == "unconfirmed_future" and "stamp" not in dets[1].data
    assert dets[2].rule_id == "ssh_bruteforce.attempt" and dets[2].data["ip_attempts"] == 1
    assert det.clocks.counts["unconfirmed_future"] == 1


def test_a_quiet_hour_then_one_more_attempt_is_not_a_burst() -> None:
    a = "192.0.2.13"
    lines = [failed(i, a, pid=100 + i) for i in range(4)] + [failed(3600, a, pid=200)]
    assert [r for _ip, r in rule_ids(lines)] == ["ssh_bruteforce.attempt"] * 5


@pytest.mark.parametrize("last_ns,rule", [(0, "ssh_bruteforce.per_ip"),
                                          (1, "ssh_bruteforce.attempt")])
def test_window_edge_is_inclusive_to_the_nanosecond(last_ns: int, rule: str) -> None:
    """Attempts at 0, 1, 2, 3 s and exactly 600 s later: five in the 600 s window; one
    nanosecond later the first has left it."""
    ip = "192.0.2.14"
    lines = [failed_iso(i, ip, pid=100 + i) for i in range(4)]
    lines.append(failed_iso(600, ip, pid=104, ns=last_ns))
    dets = run(lines)
    assert dets[-1].rule_id == rule
    assert dets[-1].data["ip_attempts"] == (5 if last_ns == 0 else 4)


@pytest.mark.parametrize("gap_ns,critical", [(600 * 10**9, True), (600 * 10**9 + 1, False)])
def test_success_after_burst_window_edge(gap_ns: int, critical: bool) -> None:
    ip = "192.0.2.15"
    lines = [failed_iso(i, ip, pid=100 + i) for i in range(5)]
    secs, ns = divmod(gap_ns, 10**9)  # from the first of the five attempts
    lines.append(f"{iso(secs, ns)} web sshd[300]: Accepted password for root from {ip} port 1 ssh2")
    dets = run(lines)
    assert (dets[-1].rule_id == "ssh_bruteforce.success_after_burst") is critical


# -- what each kind of line counts for (fail2ban's normal and aggressive modes) -----------

PROBES = [  # one connection each (its own pid), never naming a user
    "Connection closed by {ip} port 4001 [preauth]",
    "Disconnected from {ip} port 4002 [preauth]",
    "banner exchange: Connection from {ip} port 4003: invalid format",
    "Unable to negotiate with {ip} port 4004: no matching key exchange method found. "
    "Their offer: diffie-hellman-group1-sha1 [preauth]",
    "fatal: Timeout before authentication for {ip} port 4005",
    "Did not receive identification string from {ip} port 4006",
    "ssh_dispatch_run_fatal: Connection from {ip} port 4007: message authentication code "
    "incorrect [preauth]",
    "Received disconnect from {ip} port 4008:11: Bye Bye [preauth]",
    "Magic value check failed (4289475479) on obfuscated handshake from {ip} port 4009",
    "refused connect from scanner.example ({ip})",
    "Bad protocol version identification 'GET / HTTP/1.1' from {ip} port 4010",
]


def test_probes_count_only_in_aggressive_mode_once_per_connection() -> None:
    ip = "203.0.113.50"
    lines = [sshd(i, 500 + i, msg.format(ip=ip)) for i, msg in enumerate(PROBES)]
    # a second line of the banner-exchange connection (same pid): still one probe
    lines.append(sshd(20, 502, f"Did not receive identification string from {ip} port 4003"))
    assert run(lines) == []
    aggressive = SshBruteforceDetector(SshBruteforceParams.from_dict({"mode": "aggressive"}))
    dets = run(lines, aggressive)
    assert len(dets) == len(PROBES)
    assert {d.data["role"] for d in dets} == {"probe"}
    assert dets[4].rule_id == "ssh_bruteforce.per_ip"


def test_count_probes_is_the_old_name_of_aggressive() -> None:
    assert SshBruteforceParams.from_dict({"count_probes": True}).aggressive
    assert not SshBruteforceParams.from_dict({}).aggressive
    with pytest.raises(ConfigError) as err:
        SshBruteforceParams.from_dict({"mode": "ddos"})
    assert "detectors.ssh_bruteforce.mode" in str(err.value)


def test_a_connection_that_also_guessed_is_not_a_probe_too() -> None:
    ip = "203.0.113.51"
    lines = [sshd(0, 600, f"Failed password for root from {ip} port 1 ssh2"),
             sshd(1, 600, f"Received disconnect from {ip} port 1:11: Bye Bye [preauth]"),
             sshd(2, 600, f"Disconnected from authenticating user root {ip} port 1 [preauth]")]
    det = SshBruteforceDetector(SshBruteforceParams(mode="aggressive"))
    assert len(run(lines, det)) == 1


def test_failed_publickey_of_a_real_user_is_not_a_guess_but_too_many_is_one() -> None:
    ip = "203.0.113.52"
    lines = [sshd(i, 700, f"Failed publickey for git from {ip} port 5 ssh2: RSA SHA256:k{i}")
             for i in range(3)]
    lines.append(sshd(4, 700, "Disconnecting: Too many authentication failures for git [preauth]"))
    lines.append(sshd(5, 700, f"Connection closed by {ip} port 5 [preauth]"))
    from vigil.sensors.sshd_join import SshdJoiner
    joiner, events = SshdJoiner(), []
    for line in lines:
        ev = parse_syslog_line(line, now=NOW, tz=timezone.utc)
        events += joiner.push(ev, ev.ts)
    det = SshBruteforceDetector()
    dets = [d for ev in events for d in det.on_event(ev)]
    assert [(d.entity.user, d.data["role"]) for d in dets] == [("git", "verdict")]
    # a failed key for an account that does not exist is a guess
    assert len(run([sshd(9, 701, f"Failed publickey for invalid user x from {ip} port 6 ssh2: "
                                 "RSA SHA256:k")])) == 1


def test_max_auth_tries_lines_after_the_failures_add_nothing() -> None:
    ip = "203.0.113.53"
    lines = [sshd(i, 800, f"Failed password for nobody from {ip} port 7 ssh2") for i in range(6)]
    lines += [sshd(7, 800, f"error: maximum authentication attempts exceeded for nobody from {ip} "
                           "port 7 ssh2 [preauth]"),
              sshd(7, 800, f"Disconnecting authenticating user nobody {ip} port 7: Too many "
                           "authentication failures [preauth]")]
    assert len(run(lines)) == 6


def test_client_giving_up_after_invalid_user_is_one_attempt() -> None:
    ip = "203.0.113.54"
    lines = [sshd(0, 900, f"Invalid user oracle from {ip} port 8"),
             sshd(1, 900, f"Received disconnect from {ip} port 8:14: No more user authentication "
                          "methods available. [preauth]"),
             sshd(1, 900, f"Disconnected from invalid user oracle {ip} port 8 [preauth]")]
    assert [d.data["role"] for d in run(lines)] == ["announce"]
    # JSch reports a failed password in its disconnect message: one attempt
    jsch = [sshd(2, 901, f"Received disconnect from {ip}: 3: com.jcraft.jsch.JSchException: "
                         "Auth fail [preauth]")]
    assert [d.data["role"] for d in run(jsch)] == ["verdict"]


def test_repeated_message_counts_each_repeat_up_to_a_bound() -> None:
    ip = "203.0.113.55"
    line = sshd(0, 950, f"message repeated 3 times: [ Failed password for root from {ip} port 9 ssh2]")
    dets = run([line])
    assert len(dets) == 3 and dets[-1].data["ip_attempts"] == 3
    forged = sshd(1, 951, f"message repeated 999999 times: [ Failed password for root from {ip} "
                          "port 10 ssh2]")
    assert len(run([forged])) == 10
