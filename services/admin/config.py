"""Where crm-admin finds the databases and the broker: the services' environment variables,
completed, when run from a checkout, by the secrets `make run` keeps in .run/secrets.env."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from yarl import URL

from services.common.settings import (
    DEFAULT_AMQP_URL,
    DEFAULT_PG_SERVER,
    DEFAULT_PREFIX,
    SERVICE_PORTS,
)

SERVICES: tuple[str, ...] = tuple(SERVICE_PORTS)
ACTOR = "crm-admin"
BROKER_ADMIN = "crm-admin"  # the operators' broker user that deploy/provision.py creates
CHECKOUT = Path(__file__).resolve().parents[2]
SECRETS_NAME = Path(".run") / "secrets.env"


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (as deploy/run.py writes them); a missing file gives nothing."""
    values: dict[str, str] = {}
    try:
        text = path.read_text()
    except FileNotFoundError:
        return values
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() and not name.lstrip().startswith("#"):
            values[name.strip()] = value.strip()
    return values


def secrets_files() -> list[Path]:
    """The current directory's .run/secrets.env (a checkout `make run` was started from), then
    that of the checkout crm-admin is installed from; the first one naming a variable wins."""
    here, checkout = Path.cwd() / SECRETS_NAME, CHECKOUT / SECRETS_NAME
    return [here] if here.resolve() == checkout.resolve() else [here, checkout]


def environment(
    environ: Mapping[str, str] | None = None, files: Iterable[Path] | None = None
) -> dict[str, str]:
    """The process environment over the saved secrets (the environment wins, as in make run)."""
    merged: dict[str, str] = {}
    for path in files if files is not None else secrets_files():
        for name, value in read_env_file(path).items():
            merged.setdefault(name, value)
    merged.update(environ if environ is not None else os.environ)
    return merged


@dataclass(frozen=True)
class AdminConfig:
    database_urls: Mapping[str, str]
    amqp_url: str
    amqp_admin_url: str
    exchange: str
    # Each service's broker user is <prefix><service> (CRM_BROKER_USER_PREFIX, as the services
    # read it): the only user whose dead-lettered copies may name another publisher.
    broker_user_prefix: str = DEFAULT_PREFIX

    def broker_user(self, service: str) -> str:
        """The broker user ``service`` connects (and publishes, and dead-letters) as."""
        return f"{self.broker_user_prefix}{service}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AdminConfig:
        """As the services read them: ``CRM_<SERVICE>_DATABASE_URL``, else the service's own role
        when ``CRM_<SERVICE>_DB_PASSWORD`` is known (what `make run` provisions), else the
        development default; the broker as ``CRM_AMQP_ADMIN_URL``, else as the operators' user
        ``crm-admin`` when ``CRM_BROKER_ADMIN_PASSWORD`` is known, else as ``CRM_AMQP_URL``;
        the services' broker users as ``CRM_BROKER_USER_PREFIX`` + service (``crm_<service>``)."""
        amqp_url = env.get("CRM_AMQP_URL") or DEFAULT_AMQP_URL
        admin_password = env.get("CRM_BROKER_ADMIN_PASSWORD")
        admin_url = env.get("CRM_AMQP_ADMIN_URL") or (
            str(URL(amqp_url).with_user(BROKER_ADMIN).with_password(admin_password))
            if admin_password
            else amqp_url
        )
        return cls(
            database_urls={service: database_url(env, service) for service in SERVICES},
            amqp_url=amqp_url,
            amqp_admin_url=admin_url,
            exchange=env.get("CRM_EXCHANGE") or "crm.events",
            broker_user_prefix=env.get("CRM_BROKER_USER_PREFIX") or DEFAULT_PREFIX,
        )


def database_url(env: Mapping[str, str], service: str) -> str:
    upper = service.upper()
    if env.get(f"CRM_{upper}_DATABASE_URL"):
        return env[f"CRM_{upper}_DATABASE_URL"]
    password = env.get(f"CRM_{upper}_DB_PASSWORD")
    if not password:
        return f"{DEFAULT_PG_SERVER}/crm_{service}"
    name = f"crm_{service}"
    return str(URL(DEFAULT_PG_SERVER).with_user(name).with_password(password).with_path(f"/{name}"))


def shown(url: str) -> str:
    """A database or broker URL as printed: never its password."""
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return "<adresse illisible>"
    if parsed.password is not None:
        parsed = parsed.with_password("***")
    return str(parsed)
