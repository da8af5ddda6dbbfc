"""Static knowledge for `timestomp`: where backdating matters, and who restores times.

Always true: archive extractors, copy and sync tools and package managers set a file's
times to those of its source (`tar x`, `cp -p`, `rsync -t`, `dpkg` unpacking), and the account tools keep their
backup copies (`/etc/shadow-`) with the original's times — the times
are the original's, not a disguise. `touch -r/-d/-t` and programs calling `utime` on files
they wrote themselves are not in this list: that is what timestomping is.
"""

from __future__ import annotations

#: directories whose files an investigator sorts by modification time
SYSTEM_PREFIXES: tuple[str, ...] = (
    "/etc/", "/usr/", "/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/",
    "/boot/", "/opt/", "/root/", "/var/spool/", "/var/www/", "/srv/www/",
)

#: tools that copy a source's times onto the files they write
TIME_PRESERVERS: frozenset[str] = frozenset({
    "tar", "bsdtar", "gtar", "cpio", "pax", "rsync", "cp", "install", "mv", "unzip",
    "7z", "7za", "7zr", "unrar", "bunzip2", "gunzip", "gzip", "xz", "unxz", "zstd",
    "unzstd", "bzip2", "lz4", "ar", "scp", "sftp-server", "dpkg", "dpkg-deb", "rpm",
    "rpm2cpio", "dracut", "mkinitramfs", "update-initramfs", "ostree", "flatpak", "snapd",
    "rclone", "restic", "borg", "duplicity", "git-lfs",
    # the shadow tools keep the previous /etc/passwd, shadow, group, subuid ... as
    # `NAME-` with the original's times
    "useradd", "usermod", "userdel", "groupadd", "groupmod", "groupdel", "gpasswd",
    "chpasswd", "chgpasswd", "passwd", "chage", "chfn", "chsh", "newusers", "vipw", "vigr",
    "pwconv", "pwunconv", "grpconv", "grpunconv", "pwck", "grpck",
})
