#!/usr/bin/env bash
# Fetches Debian's stock cloud kernel (a distribution kernel nobody here
# wrote) for guest-x86's tests/linux_boot.rs:
#
#   bash scripts/debian-kernel.sh
#
# The real package is resolved from the `linux-image-cloud-amd64`
# metapackage (e.g. linux-image-6.1.0-57-cloud-amd64), fetched with
# `apt-get download` (not installed) and its /boot/vmlinuz-* extracted to
#   target/kernels/debian-cloud/vmlinuz      (the bzImage)
#   target/kernels/debian-cloud/config       (its kernel configuration)
#   target/kernels/debian-cloud/version      (the package it came from)
# It boots with the x86_64 busybox initramfs of scripts/build-kernel.sh.
# Idempotent: nothing is downloaded when the same package is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

meta=linux-image-cloud-amd64
out=$root/target/kernels/debian-cloud
mkdir -p "$out"

resolve() { apt-cache depends "$meta" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1; }
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
  echo "debian-cloud: $out/vmlinuz ($package)"
  exit 0
fi

echo "== downloading $package"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download "$package")
dpkg-deb -x "$work"/"$package"_*.deb "$work/tree"
vmlinuz=$(ls "$work"/tree/boot/vmlinuz-* | head -n1)
cp "$vmlinuz" "$out/vmlinuz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
cp "$(ls "$work"/tree/boot/config-* | head -n1)" "$out/config"
echo "$package" > "$out/version"
echo "debian-cloud: $out/vmlinuz ($package)"
