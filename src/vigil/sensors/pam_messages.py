"""PAM's own messages (`pam_unix(sshd:auth): authentication failure; ...`, sessions), as
logged under sshd, sudo or su. Pure functions; `vigil.sensors.authparse` dispatches here.
"""

from __future__ import annotations

import re
from typing import Any

from vigil.sensors.peer_address import address_args

# "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root"
_AUTH_FAIL = re.compile(r"^pam_(?P<module>\w+)\((?P<svc>[\w-]+):auth\):\s+authentication failure;"
                        r"(?P<kv>.*?)(?: \[preauth\])?\s*$")
_SESSION = re.compile(r"^pam_\w+\((?P<svc>[\w-]+):session\): session (?P<what>opened|closed) "
                      r"for user (?P<user>[^(\s]+)(?:\(uid=\d+\))?(?: by (?P<by>[^(\s]*))?")
_KV = re.compile(r"(\w+)=(\S*)")


def parse_pam(msg: str, service: str) -> tuple[str, dict[str, Any]] | None:
    """An authentication failure or a session line of PAM under `service`."""
    m = _AUTH_FAIL.match(msg)
    if m is not None:
        return _auth_failure(m["module"], m["kv"], service)
    m = _SESSION.match(msg)
    if m is not None:
        return f"auth.session_{m['what']}", {"service": service, "target_user": m["user"],
                                             "user": m["by"] or None}
    return None


def _auth_failure(module: str, kv_text: str, service: str) -> tuple[str, dict[str, Any]]:
    # pam_unix writes `logname= uid= euid= tty= ruser= rhost= [user=]` in this order; the
    # user name (last, and chosen by the client) may itself contain `rhost=...`, so the
    # FIRST value of each key is the one PAM wrote, and `user` is the rest of the line
    kv: dict[str, str] = {}
    for key, value in _KV.findall(kv_text):
        kv.setdefault(key, value)
    user_at = kv_text.find(" user=")
    user = kv_text[user_at + 6:].strip() if user_at >= 0 else None
    args: dict[str, Any] = {"service": service, "result": "failure", "tty": kv.get("tty"),
                            "pam_module": module, **address_args(kv.get("rhost"))}
    if service == "sshd":
        # with no `user=` (an unknown account) pam_unix may still name the remote user
        return "auth.ssh_pam_failure", {**args, "user": user or kv.get("ruser") or None}
    # sudo/su: `ruser` (or logname) is who typed the password, `user` whom they wanted
    args["target_user"] = user or None
    args["user"] = kv.get("ruser") or kv.get("logname") or None
    return ("auth.su_failed" if service == "su" else "auth.sudo_auth_failed"), args
