#!/usr/bin/env bash
# Installs what digestfs needs to build, test, benchmark and demo, from Debian 12 packages.
# Idempotent; run as root.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config git
  libfuse3-dev fuse3 liblmdb-dev lmdb-utils librpm-dev rpm rpm2cpio libssl-dev openssl
  libtss2-dev tpm2-tools swtpm swtpm-tools
  libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  runc busybox-static fio ima-evm-utils gnupg attr acl util-linux util-linux-extra e2fsprogs procps psmisc python3 jq xxd strace
  mount coreutils openssl
  ccache debootstrap libarchive-dev libgpgme-dev gpgv
  pandoc graphviz dpkg-dev podman
  # the peers in ../shared/peers (tests/lib/peers.sh): pjdfstest and manage_digest_lists are built
  # with autotools; Keylime's verifier code runs on Debian's python3 with these modules.
  autoconf automake libtool
  # fuzz/: libFuzzer and its sanitizers come with Debian's clang 14.
  clang libclang-rt-14-dev
  python3-jsonschema python3-lark python3-packaging python3-gpg python3-cryptography python3-yaml
  python3-pyasn1 python3-pyasn1-modules
)
# fapolicyd and aide are benchmark baselines only: bench/install_baselines.sh installs them when a
# benchmark needs them (fapolicyd with its service kept off), never the quick start.
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
[ -e /dev/fuse ] || modprobe fuse 2>/dev/null || true
# securityfs tells the daemon which security modules read security.selinux (docs/mount.md,
# "SELinux labels"); systemd mounts it on a booted host, a bare VM or container may not.
if grep -qw securityfs /proc/filesystems && ! mountpoint -q /sys/kernel/security; then
  mount -t securityfs securityfs /sys/kernel/security 2>/dev/null ||
    echo "setup: cannot mount securityfs on /sys/kernel/security (fs_selinux_label will say SKIPPED)" >&2
fi
