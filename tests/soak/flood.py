#!/usr/bin/env python3
"""Connection flood for the listener probe (issue 21, item 3): holds N TCP connections to
HOST:PORT that never send a byte, from a source address of its own (so the server's
per-source limit sees the flood, not the measured client), and reopens each as soon as the
server closes it. Prints connections opened and closed per second. Runs until killed or
for --seconds."""
import argparse
import asyncio
import time


async def holder(host, port, source, stats, stop):
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
        except OSError:
            stats["failed"] += 1
            await asyncio.sleep(0.05)
            continue
        stats["opened"] += 1
        try:
            # Never send; wait until the server closes.
            await reader.read(1)
        except OSError:
            pass
        stats["closed"] += 1
        writer.close()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--source", default="127.0.0.2")
    p.add_argument("--connections", type=int, default=4300)
    p.add_argument("--seconds", type=float, default=30)
    a = p.parse_args()
    stats = {"opened": 0, "closed": 0, "failed": 0}
    stop = asyncio.Event()
    tasks = [asyncio.create_task(holder(a.host, a.port, a.source, stats, stop))
             for _ in range(a.connections)]
    start = time.monotonic()
    while time.monotonic() - start < a.seconds:
        await asyncio.sleep(1)
    stop.set()
    elapsed = time.monotonic() - start
    print(f"flood: {a.connections} holders from {a.source} for {elapsed:.0f} s: "
          f"{stats['opened']} opened ({stats['opened'] / elapsed:.0f}/s), "
          f"{stats['closed']} closed by the server, {stats['failed']} refused", flush=True)
    for t in tasks:
        t.cancel()


asyncio.run(main())
