#!/usr/bin/env python3
"""delay-relay.py - a TCP relay that delays every byte by a set time, each
way, in order: the "500 ms delay on A-B" of the partition tests, where the
kernel has no netem qdisc (sch_netem) to do it.

  delay-relay.py LISTEN_HOST:PORT TARGET_HOST:PORT DELAY_FILE SECONDS

DELAY_FILE holds the delay in ms (0 when missing or unreadable); it is read
for every chunk, so that a test changes the delay of a running link by
rewriting it. The relay serves connections one after another, each with
its own two directions; it exits after SECONDS (its bound), or on SIGTERM.
"""
import asyncio, signal, sys, time


def delay_s(path):
    try:
        with open(path) as f:
            return max(0, int(f.read().strip() or 0)) / 1000.0
    except (OSError, ValueError):
        return 0.0


async def pump(reader, writer, path):
    """Read chunks as they come; write each when its delay has passed."""
    q = asyncio.Queue()

    async def read_side():
        while True:
            data = await reader.read(65536)
            await q.put((time.monotonic() + delay_s(path), data))
            if not data:
                return

    async def write_side():
        while True:
            due, data = await q.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                writer.close()
                return
            writer.write(data)
            await writer.drain()

    r = asyncio.ensure_future(read_side())
    try:
        await write_side()
    finally:
        r.cancel()


async def serve(lhost, lport, thost, tport, path):
    async def one(creader, cwriter):
        # The target may not listen yet: try it for 10 s, as a connect would.
        for _ in range(100):
            try:
                treader, twriter = await asyncio.open_connection(thost, tport)
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            cwriter.close()
            return
        try:
            await asyncio.gather(pump(creader, twriter, path), pump(treader, cwriter, path))
        except (OSError, asyncio.CancelledError):
            pass
        for w in (cwriter, twriter):
            w.close()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.call_later(bound, stop.set)
    server = await asyncio.start_server(one, lhost, lport, reuse_address=True)
    async with server:
        await stop.wait()
    for t in asyncio.all_tasks() - {asyncio.current_task()}:
        t.cancel()


def main():
    global bound
    (lhost, lport), (thost, tport) = (a.rsplit(":", 1) for a in sys.argv[1:3])
    path, bound = sys.argv[3], float(sys.argv[4])
    asyncio.run(serve(lhost, int(lport), thost, int(tport), path))


if __name__ == "__main__":
    main()
