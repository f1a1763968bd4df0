"""The fault suite's stack: the five services as real processes under deploy.run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from deploy.provision import deprovision, provision
from tests.faults.load import FIGURES_DIR, login
from tests.faults.stack import FAULTS_EXCHANGE, Stack, broker_started, drop_topology
from tests.support import RUN_ID


@pytest.fixture(scope="session")
async def stack(infrastructure: None) -> AsyncIterator[Stack]:
    await broker_started()  # a fault suite stopped before its broker came back
    stack = Stack(FIGURES_DIR / f"run-{RUN_ID}")
    try:
        await provision(stack.plan)
        await stack.add_operator()
        await stack.start()
        yield stack
    finally:
        await stack.stop()
        await stack.remove_operator()
        await drop_topology(FAULTS_EXCHANGE)
        await deprovision(stack.plan)


@pytest.fixture(scope="session")
async def http(stack: Stack) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="session")
async def admin_headers(stack: Stack, http: aiohttp.ClientSession) -> dict[str, str]:
    return await login(http, stack.gateway, stack.admin_password)
