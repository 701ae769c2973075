#!/usr/bin/env python3
"""mitm.py - a hostile relay between a primary and a secondary, for the
bad-input tests. It forwards the secondary's records untouched and parses the
primary's (docs/protocol.md framing) to damage one of them:

  mitm.py LISTEN_PORT TARGET_PORT MODE [AFTER] [--auth]

MODE: version  HELLO offers stream version 7 only (CRC recomputed)
      truncate the stream ends 10 bytes into HELLO
      flip     one bit of the next PAGES body flips
      len40    the next PAGES header claims 2^40 bytes (and no body follows)
      type     a record of unknown type 0x7777 is injected
      order    a VMSTATE_LOADED record (secondary -> primary only) is
               injected, CRC valid (needs an insecure stream to pass the tag)
AFTER: damage only after this many VMSTATE_SIZE records (default 1).
It exits when either side closes, or after 60 s.
"""
import select, socket, struct, sys, time

HDR = struct.Struct("<HHIQ")
HELLO, AUTH, PAGES, VMSTATE_SIZE, VMSTATE_LOADED = 0x1, 0x2, 0x11, 0x24, 0x26
TAG = 32

def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF

def record(rtype, flags, body):
    hdr = HDR.pack(rtype, flags, 0, len(body))
    return HDR.pack(rtype, flags, crc32c(hdr + body), len(body)) + body

def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf

def main():
    listen_port, target_port, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    after = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4].isdigit() else 1
    auth = "--auth" in sys.argv
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen_port))
    ls.listen(1)
    ls.settimeout(60)
    pri, _ = ls.accept()
    sec = socket.create_connection(("127.0.0.1", target_port), timeout=60)
    deadline = time.time() + 60
    sizes, done, handshake = 0, False, True
    try:
        while time.time() < deadline:
            r, _, _ = select.select([pri, sec], [], [], 1)
            if sec in r:
                data = sec.recv(1 << 16)
                if not data:
                    break
                pri.sendall(data)
            if pri not in r:
                continue
            hdr = recv_exact(pri, HDR.size)
            rtype, flags, crc, length = HDR.unpack(hdr)
            tagged = auth and rtype not in (HELLO, AUTH)
            if handshake and rtype == HELLO and mode == "truncate":
                sec.sendall(hdr[:10])
                return
            body = recv_exact(pri, length)
            tag = recv_exact(pri, TAG) if tagged else b""
            if rtype == HELLO and mode == "version" and not done:
                body = body[:8] + struct.pack("<HH", 7, 7) + body[12:]
                sec.sendall(record(rtype, flags, body))
                done = True
                continue
            if handshake and rtype in (HELLO, AUTH):
                if rtype == AUTH or not auth:
                    handshake = False
            armed = not done and sizes >= after
            if armed and rtype == PAGES and mode == "flip":
                b = bytearray(body)
                b[len(b) // 2] ^= 0x10
                body, done = bytes(b), True
            elif armed and rtype == PAGES and mode == "len40":
                sec.sendall(HDR.pack(rtype, flags, crc, 1 << 40))
                done = True
                # Hold the rest back: the secondary must refuse on the header.
                while time.time() < deadline:
                    if not sec.recv(1 << 16):
                        return
                return
            elif armed and mode == "type":
                sec.sendall(record(0x7777, 0, b""))
                done = True
            elif armed and mode == "order":
                sec.sendall(record(VMSTATE_LOADED, 0, struct.pack("<Q", 1)))
                done = True
            if rtype == VMSTATE_SIZE:
                sizes += 1
            sec.sendall(hdr + body + tag)
    except (EOFError, ConnectionError, socket.timeout):
        pass
    finally:
        pri.close()
        sec.close()

if __name__ == "__main__":
    main()
