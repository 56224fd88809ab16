#!/bin/sh
# install-deps.sh - install every Debian package that aicert's build, tests, benchmarks and demo
# need. Idempotent: installs only what is missing, so repeated `make check` runs cost nothing.
# libsystemd-dev: aicertd's sd_notify; systemd: systemd-analyze, which checks the installed
# aicertd.service (tests/integration/60-install.sh; no running systemd is needed).
set -eu
PKGS="make gcc clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev libssl-dev openssl
libtss2-dev tpm2-tools swtpm swtpm-tools libyaml-dev libjansson-dev libcmocka-dev libsystemd-dev
systemd libclang-rt-14-dev qemu-system-x86 qemu-system-data busybox-static python3 python3-torch
python3-sklearn python3-yaml strace coreutils util-linux procps xxd help2man man-db groff-base
ovmf sbsigntool chromium fonts-dejavu-core"
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: must run as root (try: sudo make check)" >&2
	exit 1
fi
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || apt-get update
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
