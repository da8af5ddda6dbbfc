"""Static knowledge for `webshell`: who serves the web, and what their children may be.

Always true, everywhere: JavaScript/Java/Python toolchains run their build and test
scripts through `sh -c` (`npm run build` is `sh -c "react-scripts build"` under node), and
web applications send mail and convert images through helper programs. A shell whose every
command is such a tool is audited, never alerted; `id`, `cat /etc/passwd`, downloaders or
an interactive shell under a web server or runtime are alerted.
"""

from __future__ import annotations

#: pure web servers: a shell under them is never normal work
WEB_SERVERS: frozenset[str] = frozenset({
    "nginx", "apache2", "httpd", "lighttpd", "caddy", "php-fpm", "php-cgi", "hhvm",
    "openresty", "traefik", "tomcat", "jetty", "httpd-prefork", "httpd-worker",
})
#: name prefixes of versioned web server binaries (php-fpm8.2, php-cgi7.4 ...)
WEB_SERVER_PREFIXES: tuple[str, ...] = ("php-fpm", "php-cgi")
#: application servers: they only serve requests (also behind a reverse proxy on a unix
#: socket, whose accepts do not count as serving), but run an application's own commands
APP_SERVERS: frozenset[str] = frozenset({
    "gunicorn", "uwsgi", "uvicorn", "hypercorn", "daphne", "waitress-serve", "granian",
    "puma", "unicorn", "passenger", "thin", "starman", "hypnotoad", "plackup",
})

#: monitoring agents: they accept their server's connection and run check commands
#: (`ps`, `ss`, `df` through sh -c) by design
MONITORING_AGENTS: frozenset[str] = frozenset({
    "zabbix_agentd", "zabbix_agent2", "nrpe", "check_mk_agent", "snmpd", "icinga2",
    "netdata", "telegraf", "datadog-agent", "nagios", "munin-node", "collectd",
})

#: login services and super-servers: they accept a connection to hand it to a session or a
#: service program (the shell of an SSH login is not an answer to a request)
NOT_SERVING_PARENTS: frozenset[str] = frozenset({
    "sshd", "sshd-session", "dropbear", "telnetd", "in.telnetd", "login", "inetd", "xinetd",
    "systemd", "tcpserver", "tcpsvd", "s6-tcpserver", "socat", "ncat", "nc", "tmux",
    "screen", "sudo", "su", "cron", "crond", "atd", "init",
})
#: schedulers, session programs and shells: running as a web account, they start jobs and
#: admin sessions (`sudo -u www-data ...`, the www-data crontab), not web requests
NOT_WEB_PARENTS: frozenset[str] = frozenset({
    "cron", "crond", "atd", "anacron", "sshd", "sshd-session", "sudo", "su", "runuser",
    "login", "systemd", "sh", "bash", "dash", "zsh", "ksh", "fish", "tmux", "screen",
})
#: accounts web servers run as
WEB_USERS: frozenset[str] = frozenset({"www-data", "nginx", "apache", "http", "httpd",
                                       "wwwrun", "lighttpd"})

#: what npm/yarn scripts and JVM/Python build tooling run through `sh -c`
BUILD_SCRIPT_TOOLS: frozenset[str] = frozenset({
    "npm", "npx", "yarn", "yarnpkg", "pnpm", "pnpx", "node", "nodejs", "corepack",
    "react-scripts", "vite", "webpack", "webpack-cli", "webpack-dev-server", "tsc", "jest",
    "vitest", "mocha", "next", "nuxt", "nuxi", "ng", "vue-cli-service", "svelte-kit",
    "astro", "remix", "gatsby", "parcel", "rollup", "esbuild", "swc", "babel", "eslint",
    "prettier", "stylelint", "tailwindcss", "postcss", "sass", "lessc", "turbo", "nx",
    "lerna", "rimraf", "cross-env", "concurrently", "nodemon", "ts-node", "tsx",
    "playwright", "cypress", "storybook", "husky", "lint-staged", "patch-package",
    "node-gyp", "prisma", "tsup", "unbuild", "changeset", "semantic-release",
    "git", "mvn", "gradle", "gradlew", "ant", "sbt", "pip", "pip3", "poetry", "pytest",
    "make", "echo", "true", "test", "[", "mkdir", "cp", "mv", "rm", "touch", "printf",
    "cd", "exit", "sleep",
})
#: helpers web applications legitimately run (mail, images, documents)
APP_HELPERS: frozenset[str] = frozenset({
    "sendmail", "postdrop", "msmtp", "ssmtp", "exim", "exim4", "convert", "magick",
    "identify", "gs", "ffmpeg", "ffprobe", "wkhtmltopdf", "pdftotext", "pdftoppm",
    "libreoffice", "soffice", "optipng", "jpegoptim", "pngquant", "cwebp", "gifsicle",
})

#: words of a command line that name credential or identity files
SENSITIVE_PATH_WORDS: tuple[str, ...] = (
    "/etc/passwd", "/etc/shadow", "/etc/sudoers", "/.ssh/", "id_rsa", "id_ed25519",
    "/proc/self/environ", ".aws/credentials", ".bash_history",
)

#: recon and download tools: spawned by a web server or runtime, they mean a web shell
RECON_TOOLS: frozenset[str] = frozenset({
    "id", "whoami", "uname", "hostname", "ifconfig", "ip", "netstat", "ss", "ps", "w",
    "who", "last", "lastlog", "env", "printenv", "getent", "groups", "lsb_release",
    "arp", "route", "nmap", "nc", "ncat", "netcat", "socat", "wget", "curl", "crontab",
    "sudo", "su", "passwd", "base64", "lsof", "lscpu", "dmesg",
})
