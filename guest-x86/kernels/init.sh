#!/bin/sh
# /init of wrun's test initramfs (scripts/build-kernel.sh packs it with
# Debian's busybox-static). Mounts the pseudo file systems, prints a marker
# the boot tests wait for, then gives the console a shell.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "wrun-initramfs: /init reached ($(uname -m))"
exec /bin/sh
