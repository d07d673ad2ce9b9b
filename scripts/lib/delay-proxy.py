#!/usr/bin/python3
"""A TCP relay on 127.0.0.1 that makes a local server look like one across a
wide-area network, for scripts/bench-read.

Every byte reaches the other side half a round trip after it was read, in
both directions, so a request and its response cost one round trip more than
on loopback. Each connection may also have at most WINDOW bytes per
direction in flight (sent but not acknowledged one round trip later), like
a TCP connection whose window stops growing, so one connection carries at
most WINDOW bytes per round trip. Connection setup itself is not delayed.

Usage: delay-proxy.py UPSTREAM_PORT RTT_MS WINDOW_BYTES
It listens on a free port of 127.0.0.1, prints that port on one line, and
relays until it receives SIGTERM or SIGINT.
"""

import asyncio
import collections
import signal
import sys

UPSTREAM_HOST = "127.0.0.1"
READ_SIZE = 64 * 1024


async def pump(reader, writer, rtt, window):
    """Copy reader to writer with the delay and window of the model."""
    loop = asyncio.get_running_loop()
    half = rtt / 2
    # Deliveries in order: (time to write, bytes or None for end of stream).
    deliveries = asyncio.Queue()
    # Bytes in flight: (time their acknowledgement comes back, count).
    in_flight = collections.deque()
    in_flight_bytes = 0

    async def deliver():
        while True:
            when, data = await deliveries.get()
            delay = when - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if data is None:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    delivery = asyncio.create_task(deliver())
    try:
        while True:
            now = loop.time()
            while in_flight and in_flight[0][0] <= now:
                in_flight_bytes -= in_flight.popleft()[1]
            if in_flight_bytes >= window:
                await asyncio.sleep(in_flight[0][0] - now)
                continue
            data = await reader.read(min(READ_SIZE, window - in_flight_bytes))
            now = loop.time()
            if not data:
                deliveries.put_nowait((now + half, None))
                break
            in_flight.append((now + rtt, len(data)))
            in_flight_bytes += len(data)
            deliveries.put_nowait((now + half, data))
        await delivery
    except (ConnectionError, asyncio.CancelledError):
        delivery.cancel()


async def relay(client_reader, client_writer, upstream_port, rtt, window):
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            UPSTREAM_HOST, upstream_port
        )
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(
        pump(client_reader, upstream_writer, rtt, window),
        pump(upstream_reader, client_writer, rtt, window),
        return_exceptions=True,
    )
    for writer in (client_writer, upstream_writer):
        writer.close()


async def main():
    upstream_port = int(sys.argv[1])
    rtt = float(sys.argv[2]) / 1000
    window = int(sys.argv[3])
    server = await asyncio.start_server(
        lambda r, w: relay(r, w, upstream_port, rtt, window), "127.0.0.1", 0
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    asyncio.run(main())
