#!/bin/bash
# fetch.sh - download and extract the Debian packages the real-Xen harness
# boots: the hypervisor, the Debian kernel, the Xen toolstack and its
# libraries, busybox and the Xen device model. Nothing is installed on the
# host: each .deb is fetched with `apt-get download` and unpacked with
# `dpkg-deb -x` into the cache.
#
# usage: fetch.sh            prints the extracted root on its last line
# env:   XEN_COLO_CACHE      cache folder (default /var/tmp/xen-colo-cache)
#        XEN_COLO_REFRESH=1  ask apt again even when a resolved set is cached
#
# Idempotent: a second run with the cache in place touches no network.
set -euo pipefail

CACHE=${XEN_COLO_CACHE:-/var/tmp/xen-colo-cache}
mkdir -p "$CACHE/debs"
say() { echo "fetch: $*" >&2; }
die() { echo "fetch: ERROR: $*" >&2; exit 1; }

# Runtime packages, by name. The kernel is whatever linux-image-amd64 points at.
PKGS="xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils
      libxenmisc4.17 libxencall1 libxenevtchn1 libxenforeignmemory1 libxengnttab1
      libxenstore4 libxentoollog1 libxentoolcore1 libxendevicemodel1 libxenhypfs1
      libyajl2 busybox-static qemu-system-xen seabios qemu-system-data"

LIST=$CACHE/debs.list     # the resolved .deb file names of the last fetch
have_all() {
    [ -s "$LIST" ] || return 1
    while read -r f; do [ -s "$CACHE/debs/$f" ] || return 1; done < "$LIST"
}

if [ "${XEN_COLO_REFRESH:-0}" = 1 ] || ! have_all; then
    command -v apt-get >/dev/null || die "apt-get not found: the harness needs a Debian host"
    if ! apt-cache show xen-hypervisor-4.17-amd64 >/dev/null 2>&1; then
        say "no package lists: running apt-get update"
        apt-get update -q >&2 || die "apt-get update failed"
    fi
    KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
           awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    [ -n "$KPKG" ] || die "cannot resolve linux-image-amd64 to a kernel package"
    say "downloading: $KPKG $(echo $PKGS | wc -w) others"
    # apt-get download writes into the current folder, as name_version_arch.deb
    # (as root it warns that it runs unsandboxed: harmless here).
    (cd "$CACHE/debs" && apt-get download -q $KPKG $PKGS >&2 2> >(grep -v -e unsandboxed -e '^W: ' >&2)) ||
        die "apt-get download failed (package names: $KPKG $PKGS)"
    # The newest file per package: an older cached version may sit beside it.
    : > "$LIST.new"
    for p in $KPKG $PKGS; do
        f=$(cd "$CACHE/debs" && ls -1 "${p}"_*.deb 2>/dev/null | sort -V | tail -1)
        [ -n "$f" ] || die "package $p was not downloaded"
        echo "$f" >> "$LIST.new"
    done
    mv "$LIST.new" "$LIST"
fi

# One extracted tree per set of .debs: a new kernel gives a new tree.
KEY=$(sort "$LIST" | sha256sum | cut -c1-12)
ROOT=$CACHE/root-$KEY
if [ ! -e "$ROOT/.complete" ]; then
    say "extracting $(wc -l < "$LIST") packages into $ROOT"
    rm -rf "$ROOT"; mkdir -p "$ROOT"
    while read -r f; do dpkg-deb -x "$CACHE/debs/$f" "$ROOT" || die "dpkg-deb -x $f failed"; done < "$LIST"
    XENGZ=$(ls "$ROOT"/boot/xen-4.17-amd64.gz 2>/dev/null || ls "$ROOT"/boot/xen-*.gz | head -1)
    zcat "$XENGZ" > "$ROOT/xen.elf"       # multiboot ELF for qemu -kernel
    KV=$(ls "$ROOT/lib/modules" | head -1)
    [ -n "$KV" ] && [ -e "$ROOT/boot/vmlinuz-$KV" ] || die "no kernel in the extracted packages"
    echo "$KV" > "$ROOT/.kernel-version"
    touch "$ROOT/.complete"
    # Drop trees of older package sets.
    for o in "$CACHE"/root-*; do [ "$o" = "$ROOT" ] || rm -rf "$o"; done
fi
echo "$ROOT"
