"""Which database errors are transient: the database is unreachable, restarting, out of
connections, or the connection broke under a statement (an operator's pg_terminate_backend, a
failover). Retrying later works; a request answers 503 with Retry-After, a consumer holds its
event. Everything else (a constraint, a syntax error, a bad configuration) is a bug or a
refusal, and must not be hidden behind a 503."""

from __future__ import annotations

import asyncpg
from asyncpg import exceptions as pg

# The connection broke or could not be made; PostgreSQL is shutting down, starting, or cancelled
# the statement (statement_timeout, an operator); too many connections; a transaction that lost
# a serialization conflict or a deadlock (it was rolled back as a whole: running it again works).
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable
    TimeoutError,  # connecting, acquiring from the pool, or asyncpg's command_timeout
    asyncpg.InterfaceError,  # "connection is closed", "pool is closing", ...
    asyncpg.InternalClientError,  # asyncpg's protocol state after a connection broke under it
    pg.PostgresConnectionError,  # class 08: ConnectionDoesNotExist, ConnectionFailure, ...
    pg.OperatorInterventionError,  # class 57: AdminShutdown, CrashShutdown, CannotConnectNow, ...
    pg.TooManyConnectionsError,
    pg.SerializationError,
    pg.DeadlockDetectedError,
)
# Subclasses of the families above that are not transient: a configuration mistake and a
# protocol violation stay 500s (and tracebacks) where someone will see them.
NOT_TRANSIENT: tuple[type[BaseException], ...] = (
    pg.ClientConfigurationError,
    pg.ProtocolViolationError,
)
# Worth a traceback even when transient: asyncpg's internal and interface errors also come from
# misuse of a connection (two operations at once), which is a bug that only looks transient.
DOUBTFUL: tuple[type[BaseException], ...] = (asyncpg.InternalClientError, asyncpg.InterfaceError)


def is_transient(exc: BaseException) -> bool:
    """True for a database error that retrying later should clear."""
    return isinstance(exc, TRANSIENT_DB_ERRORS) and not isinstance(exc, NOT_TRANSIENT)
