"""A TCP proxy that holds back what the client sends by a fixed delay, so that a loopback server looks as far
away as a real upstream (each request waits one delay more; answers are not held):

    python -m bench.delay_proxy LISTEN_PORT TARGET_PORT DELAY_MS
"""

import asyncio
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    try:
        while data := await reader.read(65536):
            if delay:
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def _serve(listen: int, target: int, delay: float) -> None:
    async def connect(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, server_writer, delay), _pipe(server_reader, client_writer, 0))

    server = await asyncio.start_server(connect, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


def main() -> None:
    listen, target, delay_ms = (int(arg) for arg in sys.argv[1:4])
    asyncio.run(_serve(listen, target, delay_ms / 1000))


if __name__ == "__main__":
    main()
