#!/usr/bin/env bash
# Tools the PC (system-mode) tests of guest-x86 need: nasm assembles the
# test guests in guest-x86/tests/guests, QEMU runs them as the reference
# (under KVM where /dev/kvm exists). Idempotent.
set -euo pipefail
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v nasm >/dev/null || ! command -v qemu-system-x86_64 >/dev/null; then
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y nasm qemu-system-x86
fi
