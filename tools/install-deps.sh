#!/bin/bash
# Install what xen-colo needs to build and test, from Debian 12 packages.
# Idempotent: apt-get is only called when something is missing.
#   --xen   also what the real-Xen harness (make check-xen) needs on the host;
#           Xen itself is downloaded by the harness, never installed.
#   --fuzz  also what `make fuzz` needs: clang and its libFuzzer and
#           sanitizer runtimes.
set -euo pipefail

PKGS=(build-essential autoconf automake libtool pkg-config
      libxen-dev libyajl-dev libxml2-dev libcunit1-dev libssl-dev
      python3 iproute2 procps psmisc valgrind
      libnbd-dev
      # the arbiter: its driver speaks etcd's JSON gateway with libcurl;
      # t0180 runs a real etcd and reads its keys with etcdctl
      libcurl4-openssl-dev etcd-server etcd-client curl
      # make check: the QMP client's and block replication's tests run a
      # real QEMU; a secondary sidecar makes its buffers with qemu-img
      qemu-system-x86 qemu-utils)
[ "${1:-}" = "--xen" ] && PKGS+=(cpio gzip binutils dpkg-dev)
[ "${1:-}" = "--fuzz" ] && PKGS+=(clang libclang-rt-14-dev)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
