"""Static knowledge for `data_exfil`: what is sensitive, and who reads it for a living.

Always true, everywhere: compilers and build tools read source trees, system headers and
test key fixtures; package managers read keyrings; each credential file has the tool made
to use it (`aws` reads `~/.aws/credentials`, `ssh` reads `~/.ssh/id_*`); login programs
read `/etc/shadow`. Such reads followed by a connection are audited, never alerted.
"""

from __future__ import annotations

from vigil.detectors.path_patterns import PathPatterns

#: sensitive files by category (what a read followed by a connection may leak)
SENSITIVE_FILE_PATTERNS: dict[str, list[str]] = {
    "shadow": ["/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-",
               "/etc/security/opasswd"],
    "ssh_key": ["*/.ssh/id_*", "/etc/ssh/ssh_host_*_key",
                "*/.ssh/*.pem"],
    "cloud_credentials": ["*/.aws/credentials", "*/.aws/config", "*/.config/gcloud/*",
                          "*/.azure/*", "*/.kube/config", "*/.docker/config.json",
                          "*/.terraform.d/credentials.tfrc.json",
                          "/var/run/secrets/kubernetes.io/serviceaccount/token"],
    "tokens": ["*/.git-credentials", "*/.netrc", "*/.npmrc", "*/.pypirc",
               "*/.cargo/credentials*", "*/.config/gh/hosts.yml", "/etc/krb5.keytab"],
    "browser_secrets": ["*/.mozilla/firefox/*/logins.json", "*/.mozilla/firefox/*/key4.db",
                        "*/.mozilla/firefox/*/cookies.sqlite", "*/.config/google-chrome/*/Login Data",
                        "*/.config/google-chrome/*/Cookies", "*/.config/chromium/*/Login Data",
                        "*/.config/chromium/*/Cookies"],
    "gpg_key": ["*/.gnupg/private-keys-v1.d/*", "*/.gnupg/secring.gpg"],
    "tls_private_key": ["/etc/ssl/private/", "/etc/letsencrypt/live/*/privkey*.pem",
                        "/etc/letsencrypt/archive/*/privkey*.pem", "*.key"],
    "pam_config": ["/etc/pam.d/", "/etc/pam.conf", "/etc/security/"],
}
SENSITIVE_FILES = PathPatterns(SENSITIVE_FILE_PATTERNS)

#: compilers and build tools: they read whole trees (including key fixtures), then fetch
BUILD_TOOLS: frozenset[str] = frozenset({
    "cc", "c++", "gcc", "g++", "cpp", "cc1", "cc1plus", "collect2", "ld", "ld.bfd", "ld.gold",
    "ld.lld", "lld", "mold", "as", "ar", "clang", "clang++", "clang-14", "clang-15",
    "clang-16", "rustc", "cargo", "go", "gofmt", "javac", "java", "mvn", "gradle", "make",
    "gmake", "cmake", "ninja", "meson", "bazel", "scons", "autoconf", "automake",
    "configure", "libtool", "pkg-config", "tsc", "esbuild", "webpack", "vite", "rollup",
    "dotnet", "msbuild", "ccache", "distcc", "sccache",
})

#: the tools made for each credential category
CREDENTIAL_OWNERS: dict[str, frozenset[str]] = {
    "shadow": frozenset({"sshd", "sshd-session", "login", "su", "sudo", "passwd",
                         "unix_chkpwd", "chpasswd", "chage", "useradd", "usermod",
                         "userdel", "groupadd", "groupmod", "groupdel", "gpasswd",
                         "pwck", "grpck", "vipw", "vigr", "newusers", "chsh", "chfn",
                         "cron", "crond", "systemd", "polkitd", "pkexec", "runuser",
                         "vsftpd", "dovecot", "saslauthd", "systemd-homed"}),
    "ssh_key": frozenset({"ssh", "scp", "sftp", "ssh-add", "ssh-agent", "ssh-keygen",
                          "ssh-keysign", "sshd", "sshd-session", "rsync", "git",
                          "ansible", "ansible-playbook", "autossh", "mosh", "sshfs"}),
    "cloud_credentials": frozenset({"aws", "aws_completer", "gcloud", "gsutil", "bq",
                                    "az", "kubectl", "helm", "k9s", "kubelet", "docker",
                                    "dockerd", "containerd", "podman", "terraform",
                                    "packer", "eksctl", "skopeo", "crictl"}),
    "tokens": frozenset({"git", "git-remote-https", "git-remote-http", "git-credential-store",
                         "npm", "yarn", "pnpm", "pip", "pip3", "twine", "poetry", "uv",
                         "cargo", "gh", "kinit", "sssd", "sssd_be", "gssproxy", "rpc.gssd",
                         "msktutil", "adcli", "realm", "winbindd"}),
    "browser_secrets": frozenset({"firefox", "firefox-esr", "chrome", "google-chrome",
                                  "chromium", "chromium-browser"}),
    "gpg_key": frozenset({"gpg", "gpg2", "gpg-agent", "gpgsm"}),
    "tls_private_key": frozenset({"nginx", "apache2", "httpd", "haproxy", "caddy",
                                  "traefik", "envoy", "stunnel", "stunnel4", "postfix",
                                  "smtpd", "master", "dovecot", "exim4", "exim", "certbot",
                                  "lego", "acme.sh", "openvpn", "strongswan", "charon",
                                  "slapd", "mysqld", "mariadbd", "postgres", "redis-server",
                                  "vault", "consul", "nomad", "grafana", "prometheus"}),
    "pam_config": frozenset({"sshd", "sshd-session", "login", "su", "sudo", "cron", "crond",
                             "atd", "systemd", "systemd-logind", "polkitd", "pkexec",
                             "gdm-session-worker", "lightdm", "sddm", "passwd", "chsh",
                             "chfn", "runuser", "vsftpd", "dovecot", "unix_chkpwd",
                             "pam-auth-update", "saslauthd"}),
}

#: tools that pack or encode data (left side of an exfiltration pipe)
ARCHIVE_ENCODE_TOOLS: frozenset[str] = frozenset({
    "tar", "zip", "7z", "7za", "rar", "gzip", "bzip2", "xz", "zstd", "base64", "base32",
    "basenc", "xxd", "od", "hexdump", "uuencode", "gpg", "openssl", "cpio",
})

#: tools that send data over the network (right side of an exfiltration pipe)
NETWORK_TOOLS: frozenset[str] = frozenset({
    "curl", "wget", "nc", "ncat", "netcat", "nc.openbsd", "nc.traditional", "socat",
    "telnet", "ssh", "scp", "sftp", "ftp", "tftp", "rsync", "rclone", "s3cmd",
})
