#!/usr/bin/env bash
# Builds guest-x86's test kernels from Debian's linux-source-6.1 and their
# initramfs, cached under target/kernels/ by the hash of each config.
#
#   bash scripts/build-kernel.sh [x86_64|i386|all]   (default: x86_64)
#
# Outputs (paths printed at the end):
#   target/kernels/<arch>/vmlinux, bzImage         the kernel, ELF and bzImage
#   target/kernels/<arch>/initramfs.cpio.gz        busybox-static + /init
# The config is `make tinyconfig` plus guest-x86/kernels/<arch>.config; a
# requested option the kernel's Kconfig dropped stops the script. Idempotent:
# installs what it needs (linux-source-6.1, bc, flex, bison, libelf-dev,
# cpio, busybox-static; for i386 also busybox-static:i386), and rebuilds
# only when the config, /init or the kernel source changes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

want=${1:-x86_64}
case $want in
  x86_64 | i386) arches=("$want") ;;
  all) arches=(x86_64 i386) ;;
  *) echo "usage: $0 [x86_64|i386|all]" >&2; exit 2 ;;
esac

need=()
for p in linux-source-6.1 bc flex bison libelf-dev cpio busybox-static gcc make xz-utils; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi

tarball=$(ls /usr/src/linux-source-6.1*.tar.xz | head -n1)
src_version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
cache=$root/target/kernels
src=$cache/src-$src_version
if [ ! -f "$src/Makefile" ]; then
  echo "== unpacking $tarball"
  rm -rf "$src" "$src.tmp"
  mkdir -p "$src.tmp"
  tar -xf "$tarball" -C "$src.tmp" --strip-components=1
  mv "$src.tmp" "$src"
fi

# The i386 busybox comes from Debian's i386 package, unpacked (not installed).
# Prints its path; everything else goes to stderr.
i386_busybox() {
  local dir=$cache/busybox-i386
  if [ ! -x "$dir/bin/busybox" ]; then {
    if ! dpkg --print-foreign-architectures | grep -qx i386; then
      as_root dpkg --add-architecture i386
      as_root apt-get update
    fi
    rm -rf "$dir" && mkdir -p "$dir/deb"
    (cd "$dir/deb" && apt-get download busybox-static:i386)
    dpkg-deb -x "$dir"/deb/busybox-static_*_i386.deb "$dir"
  } >&2; fi
  echo "$dir/bin/busybox"
}

build_initramfs() { # arch busybox out
  local arch=$1 busybox=$2 out=$3 tree
  tree=$(mktemp -d)
  mkdir -p "$tree"/{bin,dev,proc,sys,tmp,root,etc}
  cp "$busybox" "$tree/bin/busybox"
  ln -s busybox "$tree/bin/sh"
  cp guest-x86/kernels/init.sh "$tree/init"
  chmod 755 "$tree/init" "$tree/bin/busybox"
  (cd "$tree" && find . | LC_ALL=C sort | cpio -o -H newc --quiet --owner 0:0 | gzip -9n) > "$out.tmp"
  mv "$out.tmp" "$out"
  rm -rf "$tree"
  echo "   $arch initramfs: $out"
}

for arch in "${arches[@]}"; do
  fragment=guest-x86/kernels/$arch.config
  key=$( (cat "$fragment" guest-x86/kernels/init.sh; echo "$src_version") | sha256sum | cut -c1-16)
  out=$cache/$arch-$key
  if [ ! -f "$out/bzImage" ] || [ ! -f "$out/vmlinux" ]; then
    echo "== building the $arch kernel ($src_version, config $key) — about 5 minutes on 2 cores"
    rm -rf "$out" && mkdir -p "$out/build"
    make -s -C "$src" O="$out/build" ARCH="$arch" tinyconfig >/dev/null
    "$src/scripts/kconfig/merge_config.sh" -m -O "$out/build" "$out/build/.config" "$fragment" >/dev/null
    make -s -C "$src" O="$out/build" ARCH="$arch" olddefconfig >/dev/null
    missing=$(grep -E '^CONFIG_[A-Z0-9_]+=y' "$fragment" | while read -r line; do
      grep -qx "$line" "$out/build/.config" || echo "$line"; done)
    if [ -n "$missing" ]; then
      echo "build-kernel: Kconfig dropped these requested options for $arch:" >&2
      echo "$missing" >&2
      exit 1
    fi
    make -C "$src" O="$out/build" ARCH="$arch" -j"$(nproc)" vmlinux bzImage 2>&1 | grep -E '^(  LD|  OBJCOPY|Kernel:|.*error)' || true
    [ -f "$out/build/arch/x86/boot/bzImage" ] || { echo "build-kernel: $arch build failed" >&2; exit 1; }
    cp "$out/build/vmlinux" "$out/vmlinux"
    cp "$out/build/arch/x86/boot/bzImage" "$out/bzImage"
    cp "$out/build/.config" "$out/config"
  fi
  if [ ! -f "$out/initramfs.cpio.gz" ]; then
    if [ "$arch" = i386 ]; then bb=$(i386_busybox); else bb=/bin/busybox; fi
    build_initramfs "$arch" "$bb" "$out/initramfs.cpio.gz"
  fi
  ln -sfn "$arch-$key" "$cache/$arch"
  echo "$arch: $cache/$arch/vmlinux $cache/$arch/bzImage $cache/$arch/initramfs.cpio.gz"
done
