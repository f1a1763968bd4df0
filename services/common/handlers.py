"""Typed event handlers: a service's reactions to events, one function per event type.

    handlers = Handlers()

    @handlers.on("quote.accepted")
    async def win_opportunity(conn: asyncpg.Connection, event: CloudEvent, quote: Quote) -> None:
        ...

A handler's patterns are routing keys (``<entity>.<change>``) with the topic exchange's
wildcards: ``*`` stands for one word, ``#`` for any number of words (none included). Its third
parameter's annotation, a Pydantic model, is the payload: validated from ``event.data.record``
(fields the model does not declare are ignored) before any handler runs; a record that does not
fit is refused (``EventRefused``: the event goes to the dead-letter queue with the reason). A
handler with two parameters (``conn``, ``event``) takes no payload. The queue's bindings are the
patterns, in the order they were registered; ``when`` narrows a registration beyond what a
routing key can say (e.g. "an account whose address changed"): an event no registration wants
is acknowledged without a transaction.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

import asyncpg
from pydantic import BaseModel, ValidationError

from .events import CloudEvent

Handler = Callable[..., Awaitable[None]]
Condition = Callable[[CloudEvent], bool]
F = TypeVar("F", bound=Handler)


class EventRefused(Exception):
    """Raised by a handler for an event it will never apply (its transaction is rolled back):
    the event goes to the dead-letter queue at once, with ``reason``. (Also known as
    ``services.common.consumer.EventRefused``.)"""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@cache
def _words(pattern: str) -> tuple[str, ...]:
    return tuple(pattern.split("."))


def topic_matches(pattern: str, routing_key: str) -> bool:
    """True when ``routing_key`` matches ``pattern`` as a topic exchange matches them."""
    return _match(_words(pattern), tuple(routing_key.split(".")))


def _match(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[skip:]) for skip in range(len(words) + 1))
    if not words:
        return False
    return (head in ("*", words[0])) and _match(rest, words[1:])


def _check_pattern(pattern: str) -> None:
    if not pattern or any(not word for word in pattern.split(".")):
        raise ValueError(f"routing-key pattern {pattern!r}: empty word")


@dataclass(frozen=True)
class Registration:
    """One handler, the patterns it answers and the payload model it takes (None: none)."""

    function: Handler
    patterns: tuple[str, ...]
    payload: type[BaseModel] | None
    when: Condition | None = None

    def matches(self, event: CloudEvent, *, unless_refused: bool = False) -> bool:
        """True when a pattern matches ``event``'s routing key and ``when`` (if any) allows it.
        With ``unless_refused`` a ``when`` that fails on an odd event counts as allowing it:
        the handler decides (and fails, or not), never the filter."""
        key = event.routing_key
        if not any(topic_matches(pattern, key) for pattern in self.patterns):
            return False
        if self.when is None:
            return True
        try:
            return self.when(event)
        except Exception:
            if unless_refused:
                return True
            raise

    @property
    def name(self) -> str:
        return getattr(self.function, "__qualname__", repr(self.function))


def payload_model(function: Handler) -> type[BaseModel] | None:
    """The payload model ``function`` takes: its third parameter's annotation (None when it
    has only ``conn`` and ``event``)."""
    parameters = list(inspect.signature(function).parameters.values())
    if len(parameters) == 2:
        return None
    if len(parameters) != 3:
        raise TypeError(
            f"handler {function.__qualname__}: expected (conn, event[, payload]), "
            f"got {len(parameters)} parameters"
        )
    hints = typing.get_type_hints(function)
    model = hints.get(parameters[2].name)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(
            f"handler {function.__qualname__}: the payload parameter {parameters[2].name!r} "
            "must be annotated with a Pydantic model"
        )
    return model


@cache
def _accepted_keys(model: type[BaseModel]) -> frozenset[str]:
    """The record keys ``model`` reads (names and aliases); the others are left out."""
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        keys.add(name)
        if isinstance(field.alias, str):
            keys.add(field.alias)
        if isinstance(field.validation_alias, str):
            keys.add(field.validation_alias)
    return frozenset(keys)


def read_payload(model: type[BaseModel], event: CloudEvent) -> BaseModel:
    """``event.data.record`` as ``model`` (extra fields ignored); EventRefused when it does
    not fit, naming the fields."""
    keys = _accepted_keys(model)
    record = {k: v for k, v in event.data.record.items() if k in keys}
    try:
        return model.model_validate(record)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'record'}: {error['msg']}"
            for error in exc.errors()
        )
        raise EventRefused(
            f"contenu de l'événement {event.type} invalide pour {model.__name__} : {problems}"
        ) from exc


class Handlers:
    """The typed handlers of one service's queue."""

    def __init__(self) -> None:
        self._registrations: list[Registration] = []

    def on(self, *patterns: str, when: Condition | None = None) -> Callable[[F], F]:
        """Register the decorated function for events whose routing key matches a pattern
        (and, if given, for which ``when(event)`` is true)."""
        if not patterns:
            raise ValueError("Handlers.on: at least one routing-key pattern")
        for pattern in patterns:
            _check_pattern(pattern)

        def register(function: F) -> F:
            self._registrations.append(
                Registration(function, tuple(patterns), payload_model(function), when)
            )
            return function

        return register

    @property
    def registrations(self) -> tuple[Registration, ...]:
        return tuple(self._registrations)

    @property
    def bindings(self) -> tuple[str, ...]:
        """The queue's routing keys: every registered pattern once, in registration order."""
        keys: dict[str, None] = {}
        for registration in self._registrations:
            keys.update(dict.fromkeys(registration.patterns))
        return tuple(keys)

    def matching(self, event: CloudEvent) -> list[Registration]:
        """The registrations that act on ``event`` (one whose ``when`` fails included)."""
        return [r for r in self._registrations if r.matches(event, unless_refused=True)]

    def wants(self, event: CloudEvent) -> bool:
        """True when some handler would act on ``event`` (a ``when`` that fails raises: the
        consumer then leaves the event to ``handle``)."""
        return any(r.matches(event) for r in self._registrations)

    async def handle(self, conn: asyncpg.Connection, event: CloudEvent) -> None:
        """Call every handler that matches ``event``, in registration order; every payload is
        read first, so a refused one leaves no handler half done."""
        calls: list[tuple[Handler, tuple[Any, ...]]] = []
        for registration in self.matching(event):
            if registration.payload is None:
                calls.append((registration.function, (conn, event)))
            else:
                payload = read_payload(registration.payload, event)
                calls.append((registration.function, (conn, event, payload)))
        for function, arguments in calls:
            await function(*arguments)
