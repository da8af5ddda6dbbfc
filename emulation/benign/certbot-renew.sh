#!/bin/bash
# vigil-emulation: benign
# technique: T1552.004 Unsecured Credentials: Private Keys
# tactic: credential-access
# what: a certificate renewal as certbot does it, by a Python tool installed for the
#   scenario (/usr/local/bin/certbot renew): a new private key and self-signed
#   certificate under /etc/letsencrypt/archive/vigil-emul.example/ (openssl), the live/
#   symlinks switched to them, the renewal config rewritten, and a deploy hook run with
#   `sh -c`. /etc/letsencrypt is restored (or removed) at the end.
# report: nothing: the renewal tool writing its own keys.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need openssl

tool=/usr/local/bin/certbot
[ -e "$tool" ] && emul_skip "a certbot is installed in /usr/local/bin; not shadowing it"
emul_backup "$tool"
emul_backup /etc/letsencrypt/archive/vigil-emul.example
emul_backup /etc/letsencrypt/live/vigil-emul.example
emul_backup /etc/letsencrypt/renewal/vigil-emul.example.conf
cat >"$tool" <<'PY'
#!/usr/bin/python3
"""Renews one certificate the way certbot lays its files out (emulation)."""
import os, subprocess, sys
domain = "vigil-emul.example"
base = "/etc/letsencrypt"
archive, live = f"{base}/archive/{domain}", f"{base}/live/{domain}"
os.makedirs(archive, exist_ok=True); os.makedirs(live, exist_ok=True)
os.makedirs(f"{base}/renewal", exist_ok=True)
n = 1 + sum(1 for f in os.listdir(archive) if f.startswith("privkey"))
key, cert = f"{archive}/privkey{n}.pem", f"{archive}/cert{n}.pem"
old = os.umask(0o077)
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                "-out", cert, "-days", "90", "-subj", f"/CN={domain}"], check=True,
               capture_output=True)
os.umask(old)
for name, target in (("privkey.pem", key), ("cert.pem", cert), ("fullchain.pem", cert)):
    link = f"{live}/{name}"
    tmp = link + ".new"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(os.path.relpath(target, live), tmp)
    os.replace(tmp, link)
with open(f"{base}/renewal/{domain}.conf", "w") as fh:
    fh.write(f"version = 2.1.0\narchive_dir = {archive}\ncert = {live}/cert.pem\n")
subprocess.run(["sh", "-c", "echo deploy hook: reload web server"], check=True)
print("renewed", domain)
PY
chmod 755 "$tool"
"$tool" renew
"$tool" renew
ls -la /etc/letsencrypt/live/vigil-emul.example
