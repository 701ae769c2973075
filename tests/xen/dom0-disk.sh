# dom0-disk.sh - the disk-linux step: block replication on real Xen. The
# Linux PVH guest gets a second disk, xvdb, and writes numbered records to
# it, checking its disk against its memory before each (guest-init says
# how). Behind xvdb, in dom0:
#   - `xl-colo disk-serve`, twice, as an administrator runs it: the
#     secondary's replication sidecar over its copy, listening on
#     127.0.0.1:7879 under the protection's key, then the primary's over
#     the disk, its replication link to the secondary's (two
#     qemu-system-x86_64 -M none; the link over the record stream);
#   - qemu-nbd puts each sidecar's guest export on /dev/nbd0 (the
#     primary's) and /dev/nbd1 (the secondary's), and xen-blkback serves
#     them: the primary domain's xvdb is nbd0, the secondary domain's nbd1
#     (xl-colo receive --disk xvdb=QMP,guest=/dev/nbd1).
# The primary's disk holds data the copy has not: the primary's disk-serve
# syncs it whole first (checked before the guest starts, and again after
# the failover on what the guest never wrote).
# xl-colo protects the guest, memory and disk in every checkpoint, for at
# least XN checkpoints; then ts-colo-failover destroys the primary. On the
# secondary, after the failover: the guest's first check reads its disk
# equal to its memory (the record it last wrote is there, nothing after
# it), and it goes on writing records, each check good.
# Sourced by dom0-test.sh: it uses its helpers and dom0-colo.sh's.

DISKDIR=/run/xen-colo-disk

# serve_ready ROLE: the line disk-serve prints once it serves
serve_ready() { grep -s ' sidecar ready: ' $DISKDIR/$1.out; }
serve_qmp() { serve_ready $1 | sed -n 's/.*: qmp \([^,]*\),.*/\1/p'; }
serve_guest() { serve_ready $1 | sed -n 's/.*, guest \(.*\)$/\1/p'; }

# nbd_up DEV URI PIDFILE: qemu-nbd serving URI on DEV, until DEV has a size
# (bounded by 60 s: a slow TCG host once took more than 10). Sets why.
# -v keeps qemu-nbd in the foreground: with -c alone it forks, and its
# parent exits once the child has connected, at times before DEV shows a
# size, which read here as "qemu-nbd exited" (CI, twice). -f raw: the
# export is the guest's raw disk (no probing, no block-0 restriction).
nbd_up() {
    qemu-nbd -v -f raw -c "$1" "$2" > /tmp/$(basename "$1").log 2>&1 &
    echo $! > "$3"
    i=0
    while [ "$(cat /sys/block/$(basename "$1")/size 2>/dev/null)" = 0 ] ||
          [ ! -e /sys/block/$(basename "$1")/size ]; do
        [ $i -ge 600 ] && { why="$1 has no size after 60 s"; return 1; }
        pid_ok "$3" || { why="qemu-nbd -c $1 exited"; return 1; }
        sleep 0.1; i=$((i + 1))
    done
}

disk_teardown() {
    cleanup
    for d in nbd0 nbd1; do
        pid_ok $DISKDIR/$d.pid && { qemu-nbd -d /dev/$d >/dev/null 2>&1; wait_gone $DISKDIR/$d.pid 10 || kill -9 "$(cat $DISKDIR/$d.pid)"; }
    done
    for r in primary secondary; do
        pid_ok $DISKDIR/$r.pid || continue
        kill -TERM "$(cat $DISKDIR/$r.pid)"
        wait_gone $DISKDIR/$r.pid 30 || { kill -9 "$(cat $DISKDIR/$r.pid)"; fail disk-linux-teardown "the $r disk-serve did not stop on SIGTERM"; }
    done
}

# drecs FILE: "n uptime" of each good check, in order
drecs() { tr -d '\r' < "$1" 2>/dev/null | awk '$1 == "DREC" && $3 == "ok" { print $2, $4 }'; }

step_disk() {
    g=lindisk; t=disk-linux; port=$1
    command -v qemu-system-x86_64 >/dev/null && command -v qemu-nbd >/dev/null ||
        { fail $t "no qemu-system-x86_64 or qemu-nbd in this image"; return; }
    for k in nbd:nbd xen-blkback:xen_blkback; do
        grep -q "^${k#*:} " /proc/modules && continue
        o=""; [ ${k%:*} = nbd ] && o="nbds_max=4"
        insmod /lib/modules/${k%:*}.ko $o 2>/tmp/insmod.err ||
            { fail $t "insmod ${k%:*}: $(cat /tmp/insmod.err)"; return; }
    done
    colo_key
    mkdir -p /var/lock   # qemu-nbd -c's socket
    rm -rf $DISKDIR; mkdir -p -m 700 $DISKDIR
    truncate -s 8M $DISKDIR/p.raw $DISKDIR/s.raw
    # The primary's disk holds data from before, past the guest's records
    # (sectors 0..16001 of 16384): the last 64 KiB. The copy is all zeros
    # until the initial sync.
    dd if=/dev/urandom of=$DISKDIR/p.raw bs=64k count=1 seek=127 conv=notrunc 2>/dev/null
    for r in secondary primary; do
        case $r in
            secondary) a="--secondary --listen 127.0.0.1:7879 xvdb $DISKDIR/s.raw" ;;
            primary)   a="--primary --peer 127.0.0.1:7879 xvdb $DISKDIR/p.raw" ;;
        esac
        xl-colo -vv --rundir /run/xen-colo-$r disk-serve --key $XLCOLO_KEY $a \
            > $DISKDIR/$r.out 2> $DISKDIR/$r.err &
        echo $! > $DISKDIR/$r.pid
        i=0
        until serve_ready $r >/dev/null; do
            if [ $i -ge 600 ] || ! pid_ok $DISKDIR/$r.pid; then
                fail $t "the $r disk-serve did not start: $(tail -n 3 $DISKDIR/$r.err)"; disk_teardown; return
            fi
            sleep 0.1; i=$((i + 1))
        done
        info "$t: $(serve_ready $r)"
    done
    if [ "$(md5sum < $DISKDIR/p.raw)" = "$(md5sum < $DISKDIR/s.raw)" ]; then
        pass $t-sync "the secondary's copy is the primary's disk before the guest starts, its last 64 KiB of data from before: $(grep -m1 'initial sync done' $DISKDIR/primary.err | sed 's/.*disk xvdb: //')"
    else
        fail $t-sync "the secondary's copy differs from the primary's disk after the initial sync: $(grep -i 'sync' $DISKDIR/primary.err | tail -n 2 | tr '\n' ' ')"; disk_teardown; return
    fi
    if ! nbd_up /dev/nbd0 "$(serve_guest primary)" $DISKDIR/nbd0.pid ||
       ! nbd_up /dev/nbd1 "$(serve_guest secondary)" $DISKDIR/nbd1.pid; then
        fail $t "qemu-nbd: $why: $(cat /tmp/nbd0.log /tmp/nbd1.log 2>/dev/null | tail -n 3 | tr '\n' ' ')"; disk_teardown; return
    fi
    newlog $g; rm -f "$(conlog $g--colo)"
    if ! xl create $CFG/lindisk.cfg > /tmp/xlc.log 2>&1; then
        fail $t "xl create $g: $(grep -v "^Parsing" /tmp/xlc.log | head -n 6 | tr '\n' ' ')"; disk_teardown; return
    fi
    waitlog "$(conlog $g)" "DREC 5 ok" 300 ||
        { fail $t "$g did not boot writing its disk: $(grep -a 'DREC\|KTICK' "$(conlog $g)" | tail -n 2 | tr '\n' ' ')"; disk_teardown; return; }

    export XLCOLO_LOGDIR=$XLOG/$g XLCOLO_VERIFY=0 XLCOLO_INTERVAL=${XINT:-300}; L=$XLCOLO_LOGDIR
    export XLCOLO_START_OPTS="--disk xvdb=$(serve_qmp primary)"
    export XLCOLO_RECEIVE_OPTS="--disk xvdb=$(serve_qmp secondary),guest=/dev/nbd1"
    if ! ts $t-start ts-colo-start $g localhost localhost $port; then
        unset XLCOLO_START_OPTS XLCOLO_RECEIVE_OPTS; disk_teardown; return
    fi
    unset XLCOLO_START_OPTS XLCOLO_RECEIVE_OPTS
    e0=$(last_epoch $L/$g.primary.json); t0=$(up)
    if ! wait_epoch $L/$g.primary.json ${XN:-20} 600 $L/$g.primary.pid; then
        fail $t "not ${XN:-20} checkpoints: last epoch $(last_epoch $L/$g.primary.json)"
        tail -n 8 $L/$g.primary.err $L/$g.secondary.err; disk_teardown; return
    fi
    e1=$(last_epoch $L/$g.primary.json); t1=$(up)
    n0=$(drecs "$(conlog $g)" | wc -l)
    figures xcolo-$g $L/$g.primary.json $e0 $e1 "$(echo "$t1 $t0" | awk '{ print $1 - $2 }')" |
        grep -E 'pause_p|checkpoints_per_s'
    rate=$(drecs "$(conlog $g)" | awk 'NR == 1 { a = $2 } { n = NR; b = $2 } END { if (b > a) printf "%.1f", (n - 1) / (b - a); else print 0 }')
    echo "XCOLO: FIGURE $t.records_per_s $rate 1/s"
    pass $t-protected "$g protected with its disk for epochs $e0..$e1: $n0 records written and checked, $rate per second"

    before=$(drecs "$(conlog $g)" | tail -n 1 | cut -d' ' -f1)
    ts $t-failover ts-colo-failover $g localhost localhost
    wait_gone $L/$g.secondary.pid 60
    f=$(conlog $g--colo); [ -e "$f" ] || f=$(conlog $g)
    # The failed-over guest: its checks go on, good, from the checkpoint.
    waitlog "$f" "DREC [0-9]* ok" 120
    i=0; while [ "$(drecs "$f" | awk -v b="${before:-0}" '$1 > b' | wc -l)" -lt 5 ] && [ $i -lt 120 ]; do sleep 1; i=$((i + 1)); done
    bad=$(tr -d '\r' < "$f" | grep -a "DREC [0-9]* BAD" | head -n 1)
    first=$(drecs "$f" | head -n 1 | cut -d' ' -f1); last=$(drecs "$f" | tail -n 1 | cut -d' ' -f1)
    fe=$(sed -n 's/.*"state":"failed-over","epoch":\([0-9]*\).*/\1/p' $L/$g.secondary.json | tail -n 1)
    if grep -q "disk xvdb: failed over" $L/$g.secondary.err; then
        pass $t-disk-failover "the secondary's disk failed over to checkpoint $fe: $(grep -m1 'disk xvdb: failed over' $L/$g.secondary.err | sed 's/.*disk xvdb/disk xvdb/')"
    else
        fail $t-disk-failover "no disk failover on the secondary: $(tail -n 3 $L/$g.secondary.err)"
    fi
    if [ -n "$bad" ]; then
        fail $t-consistent "after failover from checkpoint $fe: $bad"
    elif [ -n "$first" ] && [ -n "$last" ] && [ -n "$before" ] && [ "$first" -le $((before + 1)) ] &&
         [ "$last" -ge $((first + 4)) ]; then
        pass $t-consistent "after failover from checkpoint $fe the guest's memory and disk agree: its first check read record $first as the last on xvdb and nothing after it (the primary had checked $before when destroyed); it goes on writing, checks good through record $last"
    else
        fail $t-consistent "after failover: checks '$first' .. '$last', the primary had checked '$before'"; tail -n 5 "$f"
    fi
    # What the guest never wrote is still the initial sync's.
    tail64() { dd if=$1 bs=64k skip=127 count=1 2>/dev/null | md5sum; }
    if [ "$(tail64 $DISKDIR/s.raw)" = "$(tail64 $DISKDIR/p.raw)" ]; then
        pass $t-sync-kept "after failover the secondary's disk still holds the data the initial sync brought (its last 64 KiB)"
    else
        fail $t-sync-kept "after failover the secondary's last 64 KiB differ from the primary's"
    fi
    ts $t-one-copy ts-colo-check $g localhost
    disk_teardown
}
