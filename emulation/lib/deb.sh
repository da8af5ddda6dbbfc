# Builds the .deb the package scenarios install (source after common.sh).
# shellcheck shell=bash

# emul_build_deb: a package vigil-emul-tool in EMUL_DEB (removed at exit).
# The package ships a set-uid helper. Its bit is set in the archive (tar --mode), never on
# a file on disk: chmod 4755 of a root-owned copy of a binary in /tmp is the set-uid
# backdoor of privesc-setuid-shell, not part of installing a package (real packages are
# built elsewhere, or under fakeroot by a user); dpkg sets the bit when it installs.
emul_build_deb() {
    emul_need ar gzip
    emul_tmpdir
    local root=$EMUL_DIR/pkg
    mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/vigil-emul-tool" \
        "$root/etc/vigil-emul-tool" "$root/lib/systemd/system" "$root/etc/cron.d"
    printf '#!/bin/sh\necho "vigil-emul-tool 1.0: $(cat /etc/vigil-emul-tool/tool.conf)"\n' >"$root/usr/bin/vigil-emul-tool"
    chmod 755 "$root/usr/bin/vigil-emul-tool"
    cp /bin/true "$root/usr/lib/vigil-emul-tool/helper"
    echo 'mode=quiet' >"$root/etc/vigil-emul-tool/tool.conf"
    printf '[Unit]\nDescription=vigil emul tool\n[Service]\nExecStart=/usr/bin/vigil-emul-tool\n[Install]\nWantedBy=multi-user.target\n' >"$root/lib/systemd/system/vigil-emul-tool.service"
    echo '17 3 * * * root /usr/bin/vigil-emul-tool >/dev/null' >"$root/etc/cron.d/vigil-emul-tool"
    cat >"$root/DEBIAN/control" <<CTL
Package: vigil-emul-tool
Version: 1.0
Architecture: all
Maintainer: Vigil emulation <noreply@example.invalid>
Description: test package of the Vigil emulation suite
 Installed and purged by the package scenarios.
CTL
    printf '/etc/vigil-emul-tool/tool.conf\n/etc/cron.d/vigil-emul-tool\n' >"$root/DEBIAN/conffiles"
    cat >"$root/DEBIAN/postinst" <<'SH'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    getent passwd vigil-emul-tool >/dev/null || useradd --system --no-create-home --shell /usr/sbin/nologin vigil-emul-tool
    setcap cap_net_raw+ep /usr/bin/vigil-emul-tool 2>/dev/null || true
fi
SH
    cat >"$root/DEBIAN/postrm" <<'SH'
#!/bin/sh
set -e
if [ "$1" = purge ]; then
    getent passwd vigil-emul-tool >/dev/null && userdel vigil-emul-tool || true
fi
SH
    chmod 755 "$root/DEBIAN/postinst" "$root/DEBIAN/postrm"
    local build=$EMUL_DIR/build helper=./usr/lib/vigil-emul-tool/helper
    local owner="--owner=0 --group=0 --numeric-owner"
    mkdir -p "$build"
    echo 2.0 >"$build/debian-binary"
    # shellcheck disable=SC2086
    {
        tar $owner -czf "$build/control.tar.gz" -C "$root/DEBIAN" .
        tar $owner --exclude=./DEBIAN --exclude="$helper" -cf "$build/data.tar" -C "$root" .
        tar $owner --mode=4755 -rf "$build/data.tar" -C "$root" "$helper"
    }
    gzip -n "$build/data.tar"
    EMUL_DEB=$EMUL_DIR/vigil-emul-tool.deb
    (cd "$build" && ar rc "$EMUL_DEB" debian-binary control.tar.gz data.tar.gz)
    dpkg-deb -c "$EMUL_DEB" | grep -q '^-rwsr-xr-x .*vigil-emul-tool/helper$'
}
