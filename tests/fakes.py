"""Test peers that play the telephony server: an HTTP one and one speaking Asterisk's AMI."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.gateway.telephony import sign


class FakeTelephonyServer:
    """``POST /calls``: checks the signature, records the call; ``mode`` makes it refuse or hang."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.calls: list[dict[str, Any]] = []
        self.mode = "accept"  # "refuse", "slow"
        self._server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/calls", self._calls)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    async def _calls(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("X-Signature") != sign(body, self.secret):
            return web.Response(status=401)
        if self.mode == "slow":
            await asyncio.sleep(5)
        if self.mode == "refuse":
            return web.json_response({"error": "busy"}, status=409)
        self.calls.append(orjson.loads(body))
        return web.json_response({"status": "queued"}, status=202)


class FakeAmi:
    """An Asterisk Manager Interface peer: Login, Originate, Logoff."""

    def __init__(self, username: str, secret: str) -> None:
        self.username, self.secret = username, secret
        self.originated: list[dict[str, str]] = []
        self.refuse = False
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/5.0.1\r\n")
        logged_in = False
        try:
            while True:
                block = (await reader.readuntil(b"\r\n\r\n")).decode()
                action = dict(line.split(": ", 1) for line in block.strip().split("\r\n"))
                reply = {"ActionID": action.get("ActionID", "")}
                if action["Action"] == "Login":
                    logged_in = (action["Username"], action["Secret"]) == (
                        self.username,
                        self.secret,
                    )
                    reply |= {"Response": "Success" if logged_in else "Error",
                              "Message": "Authentication accepted" if logged_in else "Authentication failed"}  # fmt: skip
                elif action["Action"] == "Originate" and logged_in and not self.refuse:
                    self.originated.append(action)
                    # An event may come before the response: the client must skip it.
                    writer.write(b"Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\n")
                    reply |= {"Response": "Success", "Message": "Originate successfully queued"}
                elif action["Action"] == "Logoff":
                    reply |= {"Response": "Goodbye", "Message": "Thanks for all the fish."}
                else:
                    reply |= {"Response": "Error", "Message": "Extension does not exist."}
                writer.write("".join(f"{k}: {v}\r\n" for k, v in reply.items()).encode() + b"\r\n")
                await writer.drain()
                if action["Action"] == "Logoff":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
