#!/usr/bin/env python3
"""simnet.py - the network around a COLO pair of sim guests with --nic: the
client, the mirror of its requests to both guests, and the redirect of each
guest's replies to the proxy (colo-simguest's NIC protocol: guest.h).

    simnet.py --a DIR --b DIR [--name NAME] --pin PATH --sin PATH --out PATH
              [--seed S] [--count N] [--then M] [--timeout S]
    simnet.py --a DIR --direct [--name NAME] [--seed S] [--count N]

A's NIC (DIR/sim/NAME.nic) -> PIN, B's -> SIN, the proxy's OUT -> the
client, which sends COUNT requests one at a time (the next once the last
is answered) to both guests, A first. Each released reply must be in order
and, unless the guest marked it random, carry the value the service's
model gives (the state after that request, from the guest's --seed). With
--then M it then prints "ready" and waits for a line on stdin (the caller
kills the primary meanwhile), and sends M more: the proxy gone, B's replies
come straight to the client, and a reply seen before may come again (B
serves again what came after its last checkpoint), the same value unless
random. At the end one JSON line: requests, replies, randoms, duplicates,
failover (true once B's replies came straight), seconds, requests_per_s,
errors (each a sentence). Exit 0 when there are no errors, 1 otherwise.
With --direct there is no pair: the client talks to A's NIC alone, its
replies straight back (the service unprotected, a bench's baseline).
"""
import argparse
import json
import os
import select
import socket
import struct
import sys
import time

PORT = 7007
GUEST_MAC = bytes.fromhex('5254005e0002')
CLIENT_MAC = bytes.fromhex('5254000000c1')
CLIENT_IP, GUEST_IP = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
M64 = (1 << 64) - 1


def mix(x):
    x = (x + 0x9e3779b97f4a7c15) & M64
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & M64
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & M64
    return x ^ (x >> 31)


def request(seq, arg, sport):
    pl = b'SNRQ' + struct.pack('>QQ', seq, arg)
    udp = struct.pack('>HHHH', sport, PORT, 8 + len(pl), 0)
    ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + len(udp) + len(pl), seq & 0xffff, 0x4000,
                     64, 17, 0, CLIENT_IP, GUEST_IP)
    s = sum(struct.unpack('>10H', ip))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    ip = ip[:10] + struct.pack('>H', ~s & 0xffff) + ip[12:]
    f = GUEST_MAC + CLIENT_MAC + b'\x08\x00' + ip + udp + pl
    return struct.pack('>I', len(f)) + f


class Framer:
    """colo-compare's records from a byte stream."""
    def __init__(self):
        self.buf = b''

    def feed(self, data):
        self.buf += data
        out = []
        while len(self.buf) >= 4:
            n = struct.unpack('>I', self.buf[:4])[0]
            if len(self.buf) < 4 + n:
                break
            out.append(self.buf[4:4 + n])
            self.buf = self.buf[4 + n:]
        return out


def reply_of(frame):
    """(seq, value, flags) of a reply frame, or None."""
    if len(frame) < 14 + 20 + 8 + 24 or frame[12:14] != b'\x08\x00' or frame[23] != 17:
        return None
    pl = frame[42:66]
    if pl[:4] != b'SNRP':
        return None
    return struct.unpack('>QQI', pl[4:24])


def connect(path, timeout):
    end = time.monotonic() + timeout
    while True:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--a', required=True)
    ap.add_argument('--b')
    ap.add_argument('--direct', action='store_true')
    ap.add_argument('--name', default='g')
    ap.add_argument('--pin')
    ap.add_argument('--sin')
    ap.add_argument('--out')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--count', type=int, default=1000)
    ap.add_argument('--then', type=int, default=0)
    ap.add_argument('--timeout', type=float, default=30)
    o = ap.parse_args()

    if not o.direct and not (o.b and o.pin and o.sin and o.out):
        ap.error('--b, --pin, --sin and --out are required without --direct')
    a = connect(os.path.join(o.a, 'sim', o.name + '.nic'), o.timeout)
    b = out = pin = sin = None
    if not o.direct:
        b = connect(os.path.join(o.b, 'sim', o.name + '.nic'), o.timeout)
        out = connect(o.out, o.timeout)
        pin = connect(o.pin, o.timeout)
        sin = connect(o.sin, o.timeout)
    fa, fb, fo = Framer(), Framer(), Framer()
    errors, seen = [], {}
    stats = {'requests': 0, 'replies': 0, 'randoms': 0, 'duplicates': 0, 'failover': False}
    state = [(o.seed ^ 0xbb67ae8584caa73b) & M64]
    model = {}      # seq -> the deterministic value
    failover = False

    def expect(seq):
        while len(model) < seq:
            n = len(model) + 1
            state[0] = mix(state[0] ^ mix(n ^ (n * 3)))
            model[n] = state[0]
        return model[seq]

    def take(frame, want):
        """A reply the client got: True once it is the one for seq want."""
        r = reply_of(frame)
        if r is None:
            errors.append('a frame that is not a reply reached the client (%d bytes)' % len(frame))
            return False
        seq, value, flags = r
        if seq in seen:
            stats['duplicates'] += 1
            if not failover:
                errors.append('reply %d released twice before any failover' % seq)
            elif not (flags & 1) and not (seen[seq][1] & 1) and seen[seq][0] != value:
                errors.append('reply %d came again with another value' % seq)
            return False
        if seq != want:
            errors.append('reply %d released while %d was awaited' % (seq, want))
            return False
        seen[seq] = (value, flags)
        stats['replies'] += 1
        if flags & 1:
            stats['randoms'] += 1
        elif value != expect(seq):
            errors.append('reply %d: value %016x, the service gives %016x' % (seq, value, expect(seq)))
        return True

    def exchange(seq, deadline):
        """Send request seq to the live guests; pump until its reply."""
        req = request(seq, seq * 3, 40000)
        for s in ([a] if a else []) + ([b] if b else []):
            try:
                s.sendall(req)
            except OSError:
                pass
        stats['requests'] += 1
        return pump(seq, deadline)

    def pump(want, deadline):
        nonlocal a, out, pin, sin, failover
        while time.monotonic() < deadline:
            socks = [x for x in (a, b, out) if x]
            rd, _, _ = select.select(socks, [], [], max(0, deadline - time.monotonic()))
            for s in rd:
                try:
                    data = s.recv(1 << 16)
                except OSError:
                    data = b''
                if s is a:
                    if not data:
                        a.close()
                        a = None
                        continue
                    got = False
                    for f in fa.feed(data):
                        if o.direct:
                            got = take(f, want) or got
                            continue
                        try:
                            pin.sendall(struct.pack('>I', len(f)) + f)
                        except OSError:
                            pass
                    if got:
                        return True
                elif s is b:
                    if not data:
                        errors.append('the secondary guest closed its NIC')
                        return False
                    for f in fb.feed(data):
                        if failover:
                            if take(f, want):
                                return True
                        elif sin:
                            try:
                                sin.sendall(struct.pack('>I', len(f)) + f)
                            except OSError:
                                pass
                elif s is out:
                    if not data:
                        # The proxy is gone with the primary: from now on
                        # the secondary's replies come straight.
                        out.close()
                        out = None
                        for x in (pin, sin):
                            x.close()
                        pin = sin = None
                        failover = stats['failover'] = True
                        continue
                    got = False
                    for f in fo.feed(data):
                        got = take(f, want) or got
                    if got:
                        return True
        errors.append('no reply to request %d in %.0f s' % (want, o.timeout))
        return False

    t0 = time.monotonic()
    seq = 0
    for _ in range(o.count):
        seq += 1
        if not exchange(seq, time.monotonic() + o.timeout):
            break
    if o.then and not errors:
        print('ready', flush=True)
        sys.stdin.readline()
        for _ in range(o.then):
            seq += 1
            if not exchange(seq, time.monotonic() + o.timeout):
                break
    el = time.monotonic() - t0
    stats.update(seconds=round(el, 3), requests_per_s=round(stats['requests'] / el, 1) if el else 0,
                 errors=errors[:20])
    print(json.dumps(stats), flush=True)
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
