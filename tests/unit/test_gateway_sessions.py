"""Pure rules of sessions, sign-in throttling and the password policy; the session check's cache
with a counting lookup in place of PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.common.identity import Identity
from services.gateway.domain import (
    InvalidToken,
    ThrottlePolicy,
    VerifiedTokens,
    generate_password,
    issue_token,
    lockout_seconds,
    password_problem,
    read_claims,
)
from services.gateway.schemas import PasswordChange, UserCreate
from services.gateway.service import (
    BootstrapPasswordRefused,
    LoginThrottled,
    check_bootstrap_password,
)
from services.gateway.sessions import SessionCheck

ALICE = Identity(str(uuid.uuid4()), "alice", "user")


def test_a_token_names_its_session() -> None:
    session_id = uuid.uuid4()
    token = issue_token(ALICE, "k" * 32, ttl=60, session_id=session_id)
    claims = read_claims(token, "k" * 32)
    assert claims.session_id == session_id
    assert claims.identity == ALICE
    assert VerifiedTokens("k" * 32).claims(token).session_id == session_id
    assert read_claims(issue_token(ALICE, "k" * 32, ttl=60), "k" * 32).session_id is None
    with pytest.raises(InvalidToken):
        read_claims(issue_token(ALICE, "k" * 32, ttl=60, session_id="pas-un-uuid"), "k" * 32)


@pytest.mark.parametrize(
    ("password", "refused_because"),
    [
        ("", "au moins 12"),
        ("Onze-carac1", "au moins 12"),
        ("123qweasdzxc", "plus courants"),
        ("1Q2W3E4R5T6Y", "plus courants"),  # the list is compared whatever the case
        ("IseeDeadPeople", "plus courants"),
    ],
)
def test_short_or_common_passwords_are_refused(password: str, refused_because: str) -> None:
    problem = password_problem(password)
    assert problem is not None
    assert refused_because in problem


def test_long_uncommon_passwords_and_generated_ones_are_accepted() -> None:
    assert password_problem("Douze-carac1") is None
    assert password_problem("cheval correct batterie agrafe") is None
    assert all(password_problem(generate_password()) is None for _ in range(20))


def test_the_policy_applies_to_the_request_bodies_naming_the_field() -> None:
    with pytest.raises(ValueError, match="au moins 12"):
        UserCreate(username="bob", password="court")
    with pytest.raises(ValueError, match="new_password"):
        PasswordChange(current_password="x", new_password="password1234")


def test_the_bootstrap_password_obeys_the_policy() -> None:
    check_bootstrap_password(None)  # generated
    check_bootstrap_password("Un-mot-de-passe-solide-1")
    with pytest.raises(BootstrapPasswordRefused, match=r"CRM_ADMIN_PASSWORD.*au moins 12"):
        check_bootstrap_password("admin")
    with pytest.raises(BootstrapPasswordRefused, match="plus courants"):
        check_bootstrap_password("qwerty123456")


def test_lockouts_start_at_the_threshold_double_and_stop_at_the_cap() -> None:
    policy = ThrottlePolicy(base_seconds=15, cap_seconds=900)
    assert [lockout_seconds(n, 5, policy) for n in range(1, 5)] == [None] * 4
    assert [lockout_seconds(n, 5, policy) for n in range(5, 12)] == [
        15, 30, 60, 120, 240, 480, 900,
    ]  # fmt: skip
    assert lockout_seconds(10_000_000, 5, policy) == 900


class CountingLookup:
    def __init__(self, answer: bool = True) -> None:
        self.calls = 0
        self.answer = answer
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, _session_id: uuid.UUID) -> bool:
        self.calls += 1
        await self.release.wait()
        return self.answer


async def test_a_session_s_state_is_read_once_while_fresh() -> None:
    lookup = CountingLookup()
    check = SessionCheck(lookup, ttl=3600)
    session_id = uuid.uuid4()
    assert await check.is_open(session_id)
    assert await check.is_open(session_id)
    assert lookup.calls == 1
    assert await check.is_open(uuid.uuid4())
    assert lookup.calls == 2


async def test_a_stale_answer_is_read_again() -> None:
    lookup = CountingLookup()
    check = SessionCheck(lookup, ttl=0)
    session_id = uuid.uuid4()
    assert await check.is_open(session_id)
    lookup.answer = False  # ended elsewhere
    assert not await check.is_open(session_id)
    assert lookup.calls == 2


async def test_concurrent_requests_of_a_session_share_one_read() -> None:
    lookup = CountingLookup()
    lookup.release.clear()
    check = SessionCheck(lookup, ttl=3600)
    session_id = uuid.uuid4()
    waiting = [asyncio.create_task(check.is_open(session_id)) for _ in range(50)]
    await asyncio.sleep(0)
    lookup.release.set()
    assert all(await asyncio.gather(*waiting))
    assert lookup.calls == 1


async def test_an_ended_session_stays_ended_without_reading_again() -> None:
    lookup = CountingLookup()
    check = SessionCheck(lookup, ttl=0)
    session_id = uuid.uuid4()
    check.ended(session_id)
    assert not await check.is_open(session_id)
    assert lookup.calls == 0
    lookup.answer = False
    other = uuid.uuid4()
    assert not await check.is_open(other)
    assert not await check.is_open(other)
    assert lookup.calls == 1  # ended is final: never read again


async def test_a_failed_read_reaches_every_waiter_and_is_retried_next_time() -> None:
    calls = 0

    async def failing(_session_id: uuid.UUID) -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("database unreachable")
        return True

    check = SessionCheck(failing, ttl=3600)
    session_id = uuid.uuid4()
    with pytest.raises(OSError, match="unreachable"):
        await check.is_open(session_id)
    assert await check.is_open(session_id)


@pytest.mark.parametrize(
    ("retry_after", "said"),
    [
        (1, "dans 1 seconde."),
        (15, "dans 15 secondes."),
        (59, "dans 59 secondes."),
        (60, "dans 1 minute."),
        (61, "dans 1 minute et 1 seconde."),
        (120, "dans 2 minutes."),
        (897, "dans 14 minutes et 57 secondes."),
    ],
)
def test_a_lockout_says_the_wait_its_retry_after_gives(retry_after: int, said: str) -> None:
    refused = LoginThrottled(retry_after)
    assert refused.retry_after == retry_after
    assert refused.detail.endswith(said), refused.detail


async def test_sessions_this_copy_ended_are_refused_at_once_even_when_kept_open() -> None:
    lookup = CountingLookup()
    check = SessionCheck(lookup, ttl=3600)
    first, second, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for session_id in (first, second, other):
        assert await check.is_open(session_id)
    check.ended(first, second)
    assert not await check.is_open(first)
    assert not await check.is_open(second)
    assert await check.is_open(other)
    assert lookup.calls == 3


async def test_a_read_begun_before_the_session_ended_does_not_reopen_it() -> None:
    lookup = CountingLookup()
    lookup.release.clear()
    check = SessionCheck(lookup, ttl=3600)
    session_id = uuid.uuid4()
    reading = asyncio.create_task(check.is_open(session_id))
    await asyncio.sleep(0)
    check.ended(session_id)
    lookup.release.set()
    assert await reading  # it asked before the end: the answer it waited for
    assert not await check.is_open(session_id)
