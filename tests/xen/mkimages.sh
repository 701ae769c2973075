#!/bin/bash
# mkimages.sh - build the test guests and the dom0 initramfs.
#
# usage: mkimages.sh ROOT BUILD_DIR OUT
#   ROOT       the extracted Debian packages (fetch.sh prints it)
#   BUILD_DIR  a built xen-colo tree: its xl-colo, libxlcolo.so* and test
#              programs go into dom0 (those not built yet are left out)
#   OUT        where to write guests/ and dom0-initrd.gz
# env: NO_HVM=1  leave the device model and HVM firmware out (smaller image)
#
# Idempotent: OUT's dom0 tree is rebuilt from scratch on every run; it takes
# a few seconds.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$1; BUILD=$(cd "$2" && pwd); OUT=$3
die() { echo "mkimages: ERROR: $*" >&2; exit 1; }
[ -e "$ROOT/.complete" ] || die "$ROOT is not a complete extracted tree (run fetch.sh)"
for t in gcc ld cpio gzip; do command -v $t >/dev/null || die "$t not found (apt-get install gcc binutils cpio gzip)"; done
KV=$(cat "$ROOT/.kernel-version")
BB=$ROOT/bin/busybox
mkdir -p "$OUT/guests"; G=$OUT/guests

# --- guests -----------------------------------------------------------------
gcc -m32 -c "$HERE/tinypvh.S" -o "$G/tinypvh.o"
ld -m elf_i386 --no-warn-rwx-segments -T "$HERE/tinypvh.ld" -o "$G/tinypvh.elf" "$G/tinypvh.o"
gcc -m32 -c "$HERE/bootsect.S" -o "$G/bootsect.o"
ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o "$G/bootsect.bin" "$G/bootsect.o"
rm -f "$G/hvmdisk.img"; truncate -s 1M "$G/hvmdisk.img"
dd if="$G/bootsect.bin" of="$G/hvmdisk.img" conv=notrunc status=none

GR=$G/guestroot; rm -rf "$GR"; mkdir -p "$GR"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,t}
cp "$BB" "$GR/bin/busybox"
"$BB" --list-full | while read -r p; do [ -e "$GR/$p" ] || ln -s /bin/busybox "$GR/$p"; done
# The PV block frontend (a module in Debian's kernel) for the disk guest's xvdb.
mkdir -p "$GR/lib/modules"
cp "$ROOT/lib/modules/$KV/kernel/drivers/block/xen-blkfront.ko" "$GR/lib/modules/"
# The PV network frontend and the server of the net-linux step's guest.
cp "$ROOT/lib/modules/$KV/kernel/drivers/net/xen-netfront.ko" "$GR/lib/modules/"
install -m 755 "$HERE/count-lines" "$GR/bin/count-lines"
install -m 755 "$HERE/guest-init" "$GR/init"
(cd "$GR" && find . | cpio -o -H newc --quiet) | gzip -1 > "$G/guest-initrd.gz"

# --- dom0 -------------------------------------------------------------------
R=$OUT/dom0root; rm -rf "$R"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,lib/modules,etc/xen,proc,sys,dev,run,tmp,var/lib,var/log} \
         "$R"/usr/local/{bin,lib/xen-colo,share/xen-colo} "$R/xen-colo"
ln -s ../run "$R/var/run"
cp "$BB" "$R/bin/busybox"
"$BB" --list-full | while read -r p; do [ -e "$R/$p" ] || ln -s /bin/busybox "$R/$p"; done

LIBPATH=$ROOT/usr/lib/x86_64-linux-gnu:$ROOT/lib/x86_64-linux-gnu:$ROOT/usr/lib/xen-4.17/lib:$BUILD/libxl-colo/.libs
# copy FILE's shared libraries: from ROOT when they are there, else the host's
copy_libs() {
    local out
    out=$(LD_LIBRARY_PATH=$LIBPATH ldd "$1" 2>&1) || return 0   # static: nothing to do
    if echo "$out" | grep -q 'not found'; then
        die "$1 needs $(echo "$out" | awk '/not found/{print $1}' | tr '\n' ' '): install the Debian package that has it"
    fi
    echo "$out" | awk '/=>/{print $3} $1 ~ /^\/.*ld-linux/{print $1}' | while read -r l; do
        [ -e "$l" ] || continue
        case "$l" in
            "$BUILD"/*) continue ;;                      # xen-colo's own, copied below
            "$ROOT"/*) d=${l#"$ROOT"} ;;
            *) d=$l ;;
        esac
        [ -e "$R$d" ] || { mkdir -p "$R$(dirname "$d")"; cp -L "$l" "$R$d"; }
    done
}
# put ROOT/PATH at /PATH in dom0
put() { mkdir -p "$R$(dirname "$1")"; cp -L "$ROOT$1" "$R$1"; copy_libs "$ROOT$1"; }

XB=/usr/lib/xen-4.17/bin
for b in $XB/xl $XB/xenstored $XB/xenconsoled $XB/xenconsole $XB/xen-init-dom0 \
         $XB/libxl-save-helper $XB/xenstore-control $XB/xen-hvmctx $XB/xenctx /usr/bin/xenstore-ls \
         /usr/bin/xenstore-read /usr/bin/xenstore-write /usr/bin/xenstore-list; do
    put $b
done
# libgcc_s is dlopen()ed by glibc for pthread_cancel/backtraces: xl aborts without it.
for l in /lib/x86_64-linux-gnu/libgcc_s.so.1 /usr/lib/x86_64-linux-gnu/libgcc_s.so.1; do
    [ -e "$l" ] && { mkdir -p "$R$(dirname "$l")"; cp -L "$l" "$R$l"; break; }
done
if [ "${NO_HVM:-0}" != 1 ]; then
    put /usr/libexec/xen-qemu-system-i386
    put /usr/lib/xen-4.17/boot/hvmloader
    put /usr/share/seabios/bios-256k.bin
    for f in linuxboot.bin linuxboot_dma.bin kvmvapic.bin multiboot.bin multiboot_dma.bin; do
        [ -e "$ROOT/usr/share/qemu/$f" ] && put /usr/share/qemu/$f
    done
    mkdir -p "$R/usr/share/qemu"; cp -r "$ROOT/usr/share/qemu/keymaps" "$R/usr/share/qemu/"
fi
for k in xen/xen-evtchn xen/xen-privcmd xen/xenfs/xenfs xen/xen-gntdev xen/xen-gntalloc \
         block/nbd block/xen-blkback/xen-blkback net/xen-netback/xen-netback net/veth; do
    cp "$ROOT/lib/modules/$KV/kernel/drivers/$k.ko" "$R/lib/modules/"
done
# The net-linux step: the bridge that is the secondary's network after its
# failover, and the host's iproute2 for the client's namespace (busybox's
# ip has no netns). Busybox's ip links are removed first: cp would write
# through them into busybox.
for k in net/llc/llc net/802/stp net/bridge/bridge; do
    cp "$ROOT/lib/modules/$KV/kernel/$k.ko" "$R/lib/modules/"
done
IP=$(command -v ip) || die "ip not found (apt-get install iproute2)"
rm -f "$R/bin/ip" "$R/sbin/ip" "$R/usr/bin/ip" "$R/usr/sbin/ip"
cp -L "$IP" "$R/sbin/ip"; copy_libs "$IP"
# The replication sidecars of the disk-linux step, and qemu-nbd to put
# their exports on /dev/nbdN for blkback: the host's Debian QEMU (the Xen
# device model has no replication driver).
for b in /usr/bin/qemu-system-x86_64 /usr/bin/qemu-img /usr/bin/qemu-nbd; do
    [ -x "$b" ] || die "$b not found (apt-get install qemu-system-x86 qemu-utils)"
    mkdir -p "$R$(dirname "$b")"; cp -L "$b" "$R$b"; copy_libs "$b"
done
# The fence-pvh step's arbiter: the host's Debian etcd (a static Go binary).
[ -x /usr/bin/etcd ] || die "/usr/bin/etcd not found (apt-get install etcd-server)"
cp -L /usr/bin/etcd "$R/usr/bin/etcd"
# Debian builds QEMU's TCG accelerator, which -M none starts, as a module.
QM=/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so
[ -e "$QM" ] || die "$QM not found (apt-get install qemu-system-x86)"
mkdir -p "$R$(dirname "$QM")"; cp -L "$QM" "$R$QM"; copy_libs "$QM"
cp "$ROOT/etc/xen/xl.conf" "$R/etc/xen/"
mkdir -p "$R/etc/xen/scripts"
install -m 755 "$HERE/block-hotplug" "$R/etc/xen/scripts/block"
install -m 755 "$HERE/vif-hotplug" "$R/etc/xen/scripts/vif-colo"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\n' > "$R/etc/group"

# xen-colo's freshly built programs. A libtool wrapper script means the real
# binary sits in .libs/.
real_bin() {
    local f=$1
    if head -c 200 "$f" | grep -q '^#!'; then
        for c in "$(dirname "$f")/.libs/$(basename "$f")" "$(dirname "$f")/.libs/lt-$(basename "$f")"; do
            [ -x "$c" ] && { echo "$c"; return; }
        done
    fi
    echo "$f"
}
INCLUDED=""
for p in xl-plugin/xl-colo tools/datapath/colo-datapath tests/xen/xen-backend-check ${XEN_COLO_EXTRA_BINS:-}; do
    [ -x "$BUILD/$p" ] || continue
    rb=$(real_bin "$BUILD/$p")
    cp -L "$rb" "$R/usr/local/bin/$(basename "$p")"
    copy_libs "$rb"
    INCLUDED="$INCLUDED $(basename "$p")"
done
for l in "$BUILD"/libxl-colo/.libs/libxlcolo.so*; do
    [ -e "$l" ] && cp -a "$l" "$R/usr/local/lib/xen-colo/"
done
for l in "$R"/usr/local/lib/xen-colo/libxlcolo.so.*.*; do [ -e "$l" ] && copy_libs "$l"; done

S=$R/usr/local/share/xen-colo
cp "$G/tinypvh.elf" "$G/hvmdisk.img" "$G/guest-initrd.gz" "$S/"
cp "$ROOT/boot/vmlinuz-$KV" "$S/vmlinuz"
cp "$HERE"/*.cfg "$S/"
install -m 755 "$HERE/dom0-init" "$R/init"
install -m 755 "$HERE/dom0-test.sh" "$R/xen-colo/dom0-test.sh"
install -m 644 "$HERE/dom0-colo.sh" "$R/xen-colo/dom0-colo.sh"
install -m 644 "$HERE/dom0-soak.sh" "$R/xen-colo/dom0-soak.sh"
install -m 644 "$HERE/dom0-disk.sh" "$R/xen-colo/dom0-disk.sh"
install -m 644 "$HERE/dom0-fence.sh" "$R/xen-colo/dom0-fence.sh"
install -m 644 "$HERE/dom0-net.sh" "$R/xen-colo/dom0-net.sh"
# the osstest steps, run for real by the colo-* steps
OSS=$HERE/../../tools/osstest
mkdir -p "$S/osstest"
install -m 755 "$OSS"/ts-colo-start "$OSS"/ts-colo-check "$OSS"/ts-colo-failover "$S/osstest/"
install -m 644 "$OSS/colo-lib.sh" "$S/osstest/"
# XEN_COLO_SHELL: a script for the "shell" step (ad hoc investigation)
[ -n "${XEN_COLO_SHELL:-}" ] && install -m 755 "$XEN_COLO_SHELL" "$R/xen-colo/shell.sh"
(cd "$R" && find . | cpio -o -H newc --quiet) | gzip -1 > "$OUT/dom0-initrd.gz.new"
mv "$OUT/dom0-initrd.gz.new" "$OUT/dom0-initrd.gz"
echo "mkimages: dom0 initramfs $(du -h "$OUT/dom0-initrd.gz" | cut -f1), xen-colo programs:${INCLUDED:- none}" >&2
