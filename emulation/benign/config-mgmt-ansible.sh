#!/bin/bash
# vigil-emulation: benign
# technique: T1543.002 Create or Modify System Process: Systemd Service; T1546.004 Event Triggered Execution: Unix Shell Configuration Modification
# tactic: persistence
# what: configuration management the way Ansible runs locally: for each task a module
#   file AnsiballZ_<module>.py is written under ~/.ansible/tmp/ansible-tmp-*/ and run
#   with `/bin/sh -c '/usr/bin/python3 .../AnsiballZ_copy.py && sleep 0'`; the modules
#   write an app config under /etc with a backup copy, a line in a limits file, a systemd
#   unit, a logrotate snippet and a sysctl drop-in (temp file + rename, as Ansible
#   does). Everything is removed and ~/.ansible restored at the end.
# report: nothing: configuration management writing /etc.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"

tmp=$HOME/.ansible/tmp/ansible-tmp-$(date +%s).$$-vigil-emul
emul_backup "$tmp"
for f in /etc/vigil-emul-app /etc/systemd/system/vigil-emul-app.service \
         /etc/logrotate.d/vigil-emul-app /etc/sysctl.d/99-vigil-emul.conf; do
    emul_backup "$f"
done
mkdir -p "$tmp" /etc/vigil-emul-app
echo 'listen=127.0.0.1:8080' >/etc/vigil-emul-app/app.conf
cat >"$tmp/module.py" <<'PY'
import os, shutil, sys, tempfile, time

def atomic_write(path, text, backup=False):
    if backup and os.path.exists(path):
        shutil.copy2(path, f"{path}.{os.getpid()}.{time.strftime('%Y-%m-%d@%H:%M:%S')}~")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".ansible_tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)

task, path = sys.argv[1], sys.argv[2]
if task == "copy":
    atomic_write(path, "listen=127.0.0.1:8080\nworkers=4\n", backup=True)
elif task == "lineinfile":
    lines = open(path).read().splitlines() if os.path.exists(path) else []
    if "nofile=65536" not in lines:
        atomic_write(path, "\n".join(lines + ["nofile=65536"]) + "\n", backup=True)
elif task == "template":
    atomic_write(path, sys.stdin.read())
print('{"changed": true}')
PY
run() {  # one task, as ansible runs a module
    local module=$1
    shift
    cp "$tmp/module.py" "$tmp/AnsiballZ_$module.py"
    /bin/sh -c "/usr/bin/python3 $tmp/AnsiballZ_$module.py $* && sleep 0"
}
run copy copy /etc/vigil-emul-app/app.conf
run lineinfile lineinfile /etc/vigil-emul-app/limits.conf
printf '[Unit]\nDescription=vigil emul app\n[Service]\nExecStart=/usr/local/bin/vigil-emul-app\nUser=nobody\n[Install]\nWantedBy=multi-user.target\n' |
    run template template /etc/systemd/system/vigil-emul-app.service
printf '/var/log/vigil-emul-app/*.log {\n  weekly\n  rotate 4\n  compress\n}\n' |
    run template template /etc/logrotate.d/vigil-emul-app
echo 'net.core.somaxconn = 1024' | run template template /etc/sysctl.d/99-vigil-emul.conf
ls /etc/vigil-emul-app
