#!/usr/bin/env bash
# Fetches one of Debian's stock kernels (distribution kernels nobody here
# wrote) for guest-x86's tests/linux_boot.rs and the boot timings:
#
#   bash scripts/debian-kernel.sh [cloud|686]   (default: cloud)
#
# cloud: the `linux-image-cloud-amd64` metapackage's kernel (e.g.
# linux-image-6.1.0-57-cloud-amd64), booted with the x86_64 busybox
# initramfs of scripts/build-kernel.sh; 686: the `linux-image-686` (i386)
# metapackage's kernel, booted with the i386 initramfs. The real package is
# fetched with `apt-get download` (not installed) and its /boot/vmlinuz-*
# extracted to
#   target/kernels/debian-<flavour>/vmlinuz      (the bzImage)
#   target/kernels/debian-<flavour>/config       (its kernel configuration)
#   target/kernels/debian-<flavour>/version      (the package it came from)
# Idempotent: nothing is downloaded when the same package is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

flavour=${1:-cloud}
case $flavour in
  cloud) meta=linux-image-cloud-amd64; arch=amd64; suffix=cloud-amd64 ;;
  686)
    meta=linux-image-686:i386; arch=i386; suffix=686
    if ! dpkg --print-foreign-architectures | grep -qx i386; then
      as_root dpkg --add-architecture i386
      as_root apt-get update
    fi
    ;;
  *) echo "usage: $0 [cloud|686]" >&2; exit 2 ;;
esac
out=$root/target/kernels/debian-$flavour
mkdir -p "$out"

resolve() { apt-cache depends "$meta" 2>/dev/null | sed -n "s/^ *Depends: \(linux-image-[0-9][^:]*-$suffix\)\(:$arch\)\?\$/\1/p" | head -n1; }
package=$(resolve)
if [ -z "$package" ]; then
  as_root apt-get update
  package=$(resolve)
fi
if [ -z "$package" ]; then
  echo "debian-kernel: cannot resolve $meta to a kernel package (apt-cache depends $meta)" >&2
  exit 1
fi

if [ -f "$out/vmlinuz" ] && [ "$(cat "$out/version" 2>/dev/null)" = "$package" ]; then
  echo "debian-$flavour: $out/vmlinuz ($package)"
  exit 0
fi

echo "== downloading $package"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download "$package:$arch")
dpkg-deb -x "$work"/"$package"_*.deb "$work/tree"
vmlinuz=$(ls "$work"/tree/boot/vmlinuz-* | head -n1)
cp "$vmlinuz" "$out/vmlinuz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
cp "$(ls "$work"/tree/boot/config-* | head -n1)" "$out/config"
echo "$package" > "$out/version"
echo "debian-$flavour: $out/vmlinuz ($package)"
