"""service_tamper: security services stopped, the agent killed, logs cleared."""

from __future__ import annotations

from detector_factories import (O_TRUNC, O_WRONLY, alerts, execve, init, login_shell,
                                open_file, proc, run, sh_c, syscall)

from vigil.detectors.process_identity import AgentIdentity
from vigil.detectors.service_tamper import ServiceTamperDetector, ServiceTamperParams
from vigil.priority import Priority

OWN = AgentIdentity(pid=4242, uid=0)


def root_shell():
    return login_shell(uid=0, user="root")


def test_fp5_root_stopping_vigil_is_audited_not_alerted() -> None:
    stop = proc("/usr/bin/systemctl", "stop", "vigil", pid=600, parent=root_shell())
    start = proc("/usr/bin/systemctl", "start", "vigil", pid=601, parent=root_shell())
    dets = run(ServiceTamperDetector(own=OWN), [execve(stop), execve(start)])
    assert len(dets) == 1 and alerts(dets) == []
    s = dets[0].suppressed
    assert (s.layer, s.entry) == ("static", "service_tamper.root_manages_vigil=vigil")
    assert s.reason == "root service management of vigil (deploy)"


def test_fp5_stopping_auditd_alerts() -> None:
    stop = proc("/usr/bin/systemctl", "stop", "auditd.service", pid=600, parent=root_shell())
    dets = run(ServiceTamperDetector(own=OWN), [execve(stop)])
    assert [d.rule_id for d in alerts(dets)] == ["service_tamper.service_stop"]
    assert dets[0].data == {"service": "auditd", "action": "stop",
                            "title": "Security service stopped or tampered with"}
    assert "T1562.001" in dets[0].tags and dets[0].priority == Priority.ERROR


def test_fp5_non_root_stopping_vigil_alerts() -> None:
    stop = proc("/usr/bin/systemctl", "stop", "vigil", pid=600, uid=1000,
                parent=login_shell())
    dets = run(ServiceTamperDetector(own=OWN), [execve(stop)])
    assert len(alerts(dets)) == 1 and dets[0].priority == Priority.CRITICAL


def test_root_disabling_or_masking_vigil_alerts() -> None:
    d1 = proc("/usr/bin/systemctl", "disable", "--now", "vigil.service", pid=600,
              parent=root_shell())
    d2 = proc("/usr/bin/systemctl", "mask", "vigil", pid=601, parent=root_shell())
    assert len(alerts(run(ServiceTamperDetector(own=OWN), [execve(d1), execve(d2)]))) == 2


def test_service_script_and_its_systemctl_child_are_one_detection() -> None:
    service = proc("/usr/bin/dash", "/usr/sbin/service", "fail2ban", "stop", pid=600,
                   parent=root_shell(), name="service")
    ctl = proc("/usr/bin/systemctl", "stop", "fail2ban.service", pid=601, parent=service)
    dets = run(ServiceTamperDetector(), [execve(service), execve(ctl)])
    assert [d.data["service"] for d in alerts(dets)] == ["fail2ban"]


def test_init_script_and_other_service_tools() -> None:
    shell = root_shell()
    cmds = [proc("/usr/bin/dash", "/etc/init.d/crowdsec", "stop", pid=610, parent=shell),
            proc("/usr/sbin/update-rc.d", "ufw", "disable", pid=611, parent=shell),
            proc("/usr/bin/pkill", "-9", "falco", pid=612, parent=shell),
            proc("/usr/bin/killall", "auditd", pid=613, parent=shell)]
    dets = run(ServiceTamperDetector(), [execve(c) for c in cmds])
    assert [d.data["service"] for d in alerts(dets)] == ["crowdsec", "ufw", "falco", "auditd"]


def test_harmless_service_commands_are_ignored() -> None:
    shell = root_shell()
    cmds = [proc("/usr/bin/systemctl", "restart", "nginx", pid=620, parent=shell),
            proc("/usr/bin/systemctl", "stop", "nginx", pid=621, parent=shell),
            proc("/usr/bin/systemctl", "status", "auditd", pid=622, parent=shell),
            proc("/usr/bin/pkill", "-HUP", "rsyslogd", pid=623, parent=shell),
            proc("/usr/bin/grep", "systemctl stop auditd", pid=624, parent=shell),
            proc("/tmp/systemctl", "stop", "auditd", pid=625, parent=shell)]
    assert run(ServiceTamperDetector(), [execve(c) for c in cmds]) == []


def test_package_upgrade_restarting_security_service_is_suppressed() -> None:
    apt = proc("/usr/bin/apt-get", "upgrade", "-y", pid=700, parent=root_shell())
    dpkg = proc("/usr/bin/dpkg", "--unpack", pid=701, parent=apt)
    prerm = proc("/usr/bin/dash", "/var/lib/dpkg/info/auditd.prerm", "upgrade", pid=702,
                 parent=dpkg)
    invoke = proc("/usr/bin/perl", "/usr/bin/deb-systemd-invoke", "stop", "auditd.service",
                  pid=703, parent=prerm)
    ctl = proc("/usr/bin/systemctl", "stop", "auditd.service", pid=704, parent=invoke)
    dets = run(ServiceTamperDetector(), [execve(ctl)])
    assert len(dets) == 1 and dets[0].suppressed.entry == "service_tamper.package_managers=dpkg"


def test_security_mechanisms_switched_off() -> None:
    shell = root_shell()
    cmds = [proc("/usr/sbin/auditctl", "-e", "0", pid=630, parent=shell),
            proc("/usr/sbin/ufw", "disable", pid=631, parent=shell),
            proc("/usr/sbin/nft", "flush", "ruleset", pid=632, parent=shell),
            proc("/usr/sbin/aa-teardown", pid=633, parent=shell),
            proc("/usr/sbin/auditctl", "-l", pid=634, parent=shell)]
    dets = run(ServiceTamperDetector(), [execve(c) for c in cmds])
    assert [d.entity.pid for d in alerts(dets)] == [630, 631, 632, 633]
    assert "T1562.004" in dets[1].tags


def test_agent_killed_is_critical_unless_systemd_delivers_a_stop() -> None:
    kill = proc("/usr/bin/kill", "-9", "4242", pid=640, parent=root_shell())
    dets = run(ServiceTamperDetector(own=OWN), [
        syscall(kill, "kill", pid=4242, sig=9),
        syscall(kill, "kill", pid=4242, sig=1),      # reload: not a kill
        syscall(kill, "kill", pid=999, sig=9),       # someone else
        syscall(kill, "tkill", tid=4242, sig=9),     # a thread of the agent
        syscall(init(), "kill", pid=4242, sig=15)])
    assert [d.rule_id for d in alerts(dets)] == ["service_tamper.agent_kill"] * 2
    assert dets[0].priority == Priority.CRITICAL
    assert dets[2].suppressed.entry == "service_tamper.service_manager=systemd"


def test_failed_kill_attempt_on_agent_is_still_reported() -> None:
    kill = proc("/usr/bin/kill", "4242", pid=640, uid=1000, parent=login_shell())
    dets = run(ServiceTamperDetector(own=OWN), [syscall(kill, "kill", res=-1, pid=4242, sig=15)])
    assert len(alerts(dets)) == 1 and "(failed)" in dets[0].output


def test_log_truncation_and_deletion() -> None:
    shell = root_shell()
    sh = sh_c(": > /var/log/auth.log", parent=shell, pid=650)
    shred = proc("/usr/bin/shred", "-u", "/var/log/wtmp", pid=651, parent=shell)
    hist = proc("/usr/bin/rm", "/root/.bash_history", pid=652, parent=shell)
    dets = run(ServiceTamperDetector(), [
        open_file(sh, "/var/log/auth.log", O_WRONLY | O_TRUNC),
        syscall(shred, "unlinkat", path="/var/log/wtmp"),
        syscall(hist, "unlink", path="/root/.bash_history"),
        open_file(sh, "/var/log/nginx/access.log", O_WRONLY | O_TRUNC),   # not a security log
        open_file(sh, "/var/log/auth.log", O_WRONLY | 0o2000)])            # append, not truncate
    assert [d.rule_id for d in alerts(dets)] == ["service_tamper.log_clear",
                                                  "service_tamper.log_clear",
                                                  "service_tamper.history_clear"]
    assert "T1070.003" in dets[2].tags


def test_logrotate_is_suppressed_and_journal_vacuum_fires() -> None:
    logrotate = proc("/usr/sbin/logrotate", "/etc/logrotate.conf", pid=660, parent=init())
    vacuum = proc("/usr/bin/journalctl", "--vacuum-time=1s", pid=661, parent=root_shell())
    dets = run(ServiceTamperDetector(), [
        syscall(logrotate, "unlink", path="/var/log/auth.log.4.gz"),
        syscall(logrotate, "truncate", path="/var/log/syslog", length=0),
        execve(vacuum)])
    assert [d.suppressed.entry if d.suppressed else d.rule_id for d in dets] == [
        "service_tamper.log_keepers=logrotate", "service_tamper.log_keepers=logrotate",
        "service_tamper.log_clear"]


def test_extra_services_and_logs_params() -> None:
    params = ServiceTamperParams.from_dict({"extra_services": ["wazuh-manager"],
                                            "extra_log_paths": ["/srv/app/audit.log"]})
    ctl = proc("/usr/bin/systemctl", "stop", "wazuh-manager", pid=600, parent=root_shell())
    rm = proc("/usr/bin/rm", pid=601, parent=root_shell())
    dets = run(ServiceTamperDetector(params), [execve(ctl),
                                               syscall(rm, "unlink", path="/srv/app/audit.log")])
    assert len(alerts(dets)) == 2
