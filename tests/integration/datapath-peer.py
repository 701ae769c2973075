#!/usr/bin/env python3
"""datapath-peer.py - the ends of t0179's network, on the kernel's own stack.

    datapath-peer.py server DIVERGE_AT      a guest's UDP service on port 7000:
                                            "REQ n DATA" -> "ANS n sha256(DATA)";
                                            request DIVERGE_AT (0: none) answered
                                            otherwise; "ready" once it listens
    datapath-peer.py client HOST COUNT      COUNT requests, one at a time, each
                                            answer checked (5 s each); a JSON
                                            line at the end; exit 1 on an error
    datapath-peer.py tcpserver DIVERGE_AT   the same over TCP on port 7001, a line
                                            each way ("REQ n DATA\\n", "ANS n
                                            HEX\\n"), the divergent answer of the
                                            same length; connections one by one
    datapath-peer.py tcpclient HOST COUNT [THEN]
                                            COUNT requests on one connection, one
                                            at a time (10 s each); with THEN,
                                            "ready", a line on stdin, THEN more
    datapath-peer.py notify PATH            notify_dev's Xen side on colo-proxy's
                                            --notify: each DO_CHECKPOINT answered
                                            COLO_CHECKPOINT, "DO_CHECKPOINT n"
                                            printed; until SIGTERM
"""
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import time

PORT = 7000


def server(diverge_at):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('0.0.0.0', PORT))
    print('ready', flush=True)
    while True:
        data, peer = s.recvfrom(2048)
        parts = data.split(b' ', 2)
        if len(parts) != 3 or parts[0] != b'REQ':
            continue
        n = int(parts[1])
        body = b'otherwise' if n == diverge_at else hashlib.sha256(parts[2]).hexdigest().encode()
        s.sendto(b'ANS %d %s' % (n, body), peer)


def client(host, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    errors, answered, t0 = [], 0, time.monotonic()
    for n in range(1, count + 1):
        data = os.urandom(16).hex().encode()
        s.sendto(b'REQ %d %s' % (n, data), (host, PORT))
        want = b'ANS %d %s' % (n, hashlib.sha256(data).hexdigest().encode())
        try:
            got = s.recv(2048)
        except socket.timeout:
            errors.append('no answer to request %d in 5 s' % n)
            break
        if got != want:
            errors.append('request %d: answered %r' % (n, got[:60]))
            break
        answered += 1
    # Nothing more may come: each answer once.
    s.settimeout(0.2)
    try:
        extra = s.recv(2048)
        errors.append('an answer more: %r' % extra[:60])
    except socket.timeout:
        pass
    el = time.monotonic() - t0
    print(json.dumps({'requests': count, 'answered': answered, 'seconds': round(el, 3),
                      'requests_per_s': round(answered / el, 1), 'errors': errors}))
    return 1 if errors else 0


def tcpserver(diverge_at):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('0.0.0.0', PORT + 1))
    ls.listen(4)
    print('ready', flush=True)
    while True:
        c, _ = ls.accept()
        f = c.makefile('rb')
        for line in f:
            parts = line.rstrip(b'\n').split(b' ', 2)
            if len(parts) != 3 or parts[0] != b'REQ':
                break
            n = int(parts[1])
            body = b'x' * 64 if n == diverge_at else hashlib.sha256(parts[2]).hexdigest().encode()
            c.sendall(b'ANS %d %s\n' % (n, body))
        c.close()


def tcpclient(host, count, then):
    s = socket.create_connection((host, PORT + 1), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile('rb')
    errors, answered, t0 = [], 0, time.monotonic()

    def ask(n):
        data = os.urandom(16).hex().encode()
        s.sendall(b'REQ %d %s\n' % (n, data))
        want = b'ANS %d %s\n' % (n, hashlib.sha256(data).hexdigest().encode())
        try:
            got = f.readline()
        except socket.timeout:
            errors.append('no answer to request %d in 10 s' % n)
            return False
        if got != want:
            errors.append('request %d: answered %r' % (n, got[:80]))
            return False
        return True
    n = 0
    for _ in range(count):
        n += 1
        if not ask(n):
            break
        answered += 1
    if then and not errors:
        print('ready', flush=True)
        sys.stdin.readline()
        for _ in range(then):
            n += 1
            if not ask(n):
                break
            answered += 1
    el = time.monotonic() - t0
    print(json.dumps({'requests': n, 'answered': answered, 'seconds': round(el, 3),
                      'requests_per_s': round(answered / el, 1), 'errors': errors}), flush=True)
    return 1 if errors else 0


def notify(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    def send(msg):
        s.sendall(struct.pack('>I', len(msg)) + msg)
    send(b'COLO_USERSPACE_PROXY_INIT')
    buf, n = b'', 0
    while True:
        d = s.recv(4096)
        if not d:
            return 0
        buf += d
        while len(buf) >= 4:
            ln = struct.unpack('>I', buf[:4])[0]
            if len(buf) < 4 + ln:
                break
            msg, buf = buf[4:4 + ln], buf[4 + ln:]
            if msg == b'DO_CHECKPOINT':
                n += 1
                print('DO_CHECKPOINT %d' % n, flush=True)
                send(b'COLO_CHECKPOINT')


def main():
    mode = sys.argv[1]
    if mode == 'server':
        return server(int(sys.argv[2]))
    if mode == 'client':
        return client(sys.argv[2], int(sys.argv[3]))
    if mode == 'notify':
        return notify(sys.argv[2])
    if mode == 'tcpserver':
        return tcpserver(int(sys.argv[2]))
    if mode == 'tcpclient':
        return tcpclient(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    print('unknown mode %s' % mode, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
