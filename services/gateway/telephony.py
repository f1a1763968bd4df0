"""Talking to the telephony server: placing calls (adapters ``http`` and ``asterisk``) and
checking its signed callbacks."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import aiohttp
import orjson

log = logging.getLogger(__name__)
MAX_CLOCK_SKEW_SECONDS = 300
SIGNATURE_HEADER = "X-Signature"


class TelephonyUnavailable(Exception):
    """The telephony server cannot be reached (or does not answer in time)."""


class TelephonyRefused(Exception):
    """The telephony server answered, and refused to place the call."""


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(body: bytes, header: str | None, secret: str | None) -> bool:
    if not secret or not header:
        return False
    return hmac.compare_digest(header.strip(), sign(body, secret))


def timestamp_fresh(timestamp: datetime, now: datetime) -> bool:
    """Callbacks more than five minutes away from our clock are refused (no replays)."""
    return abs((now - timestamp).total_seconds()) <= MAX_CLOCK_SKEW_SECONDS


class Telephony(Protocol):
    name: str

    async def place_call(self, call_id: str, extension: str, number: str) -> None: ...


@dataclass
class TelephonyLink:
    """The adapter in use, if any (set when the gateway starts)."""

    adapter: Telephony | None = None


class HttpTelephony:
    """``POST {url}/calls`` with a signed JSON body."""

    name = "http"

    def __init__(
        self, session: aiohttp.ClientSession, url: str, secret: str, timeout: float
    ) -> None:
        self._session, self._url, self._secret = session, url.rstrip("/"), secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def place_call(self, call_id: str, extension: str, number: str) -> None:
        body = orjson.dumps({"call_id": call_id, "from": extension, "to": number})
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, self._secret)}
        try:
            async with self._session.post(
                f"{self._url}/calls", data=body, headers=headers, timeout=self._timeout
            ) as response:
                if response.status >= 400:
                    raise TelephonyRefused(f"HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TelephonyUnavailable(type(exc).__name__) from exc


class AsteriskTelephony:
    """An Originate action over the Asterisk Manager Interface (AMI, TCP)."""

    name = "asterisk"

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        channel: str = "PJSIP/{extension}",
        context: str = "from-internal",
        timeout: float = 5.0,
    ) -> None:
        self._host, self._port = host, port
        self._username, self._secret = username, secret
        self._channel, self._context, self._timeout = channel, context, timeout

    async def place_call(self, call_id: str, extension: str, number: str) -> None:
        try:
            await asyncio.wait_for(self._originate(call_id, extension, number), self._timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            raise TelephonyUnavailable(type(exc).__name__) from exc

    async def _originate(self, call_id: str, extension: str, number: str) -> None:
        reader, writer = await asyncio.open_connection(self._host, self._port)
        try:
            await reader.readline()  # "Asterisk Call Manager/x.y"
            login = await self._action(
                reader, writer,
                {"Action": "Login", "Username": self._username, "Secret": self._secret,
                 "Events": "off", "ActionID": f"{call_id}-login"},
            )  # fmt: skip
            if login.get("Response") != "Success":
                raise TelephonyRefused("AMI login refused")
            originate = await self._action(
                reader, writer,
                {"Action": "Originate", "ActionID": call_id,
                 "Channel": self._channel.format(extension=extension), "Context": self._context,
                 "Exten": number, "Priority": "1", "CallerID": number, "Async": "true",
                 "Timeout": "30000", "Variable": f"CRM_CALL_ID={call_id}"},
            )  # fmt: skip
            if originate.get("Response") != "Success":
                raise TelephonyRefused(originate.get("Message", "Originate refused"))
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                await self._action(reader, writer, {"Action": "Logoff"})
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    @staticmethod
    async def _action(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, fields: dict[str, str]
    ) -> dict[str, str]:
        """Send one action and read its response (skipping any event in between)."""
        for value in fields.values():
            if "\r" in value or "\n" in value:
                raise TelephonyRefused("invalid character in an AMI field")
        writer.write("".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode() + b"\r\n")
        await writer.drain()
        while True:
            block = (await reader.readuntil(b"\r\n\r\n")).decode(errors="replace")
            message = dict(
                line.split(": ", 1) for line in block.strip().split("\r\n") if ": " in line
            )
            if "Response" in message:
                return message
