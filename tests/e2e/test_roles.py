"""Every route of the gateway, walked with each role and without a token, against the table below
of what each may do. A route added without a rule here fails this test."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from aiohttp import web

from services.accounts.app import create_app as accounts_app
from services.accounts.operations import operations as accounts_operations
from services.activities.app import create_app as activities_app
from services.activities.operations import operations as activities_operations
from services.common.meta import public_routes
from services.documents.app import create_app as documents_app
from services.documents.operations import operations as documents_operations
from services.gateway.app import create_app
from services.gateway.web import FORWARDED as FORWARDED_ROUTE
from tests.platform import Platform

Headers = dict[str, str]
Who = Literal["anonymous", "readonly", "user", "admin"]
WHO: tuple[Who, ...] = ("anonymous", "readonly", "user", "admin")
# "self": allowed when the {id} of the path is the caller's own, refused for anyone else's.
Access = bool | Literal["self"]


@dataclass(frozen=True)
class Rule:
    anonymous: Access
    readonly: Access
    user: Access
    admin: Access

    def allows(self, who: Who, own_id: bool) -> bool:
        access = getattr(self, who)
        return own_id if access == "self" else bool(access)


PUBLIC = Rule(True, True, True, True)
SIGNED_IN = Rule(False, True, True, True)
WRITERS = Rule(False, False, True, True)
ADMINS = Rule(False, False, False, True)
SELF_OR_ADMIN = Rule(False, "self", "self", True)
OWN_WRITE = Rule(False, False, "self", True)  # a write: read-only users use /users/me instead
# Not a bearer-token route: the telephony server signs its callbacks (401 without a signature).
SIGNED_CALLBACK = "signed"
# The gateway's /metrics: absent without CRM_METRICS_TOKEN (the tests set none).
HIDDEN = "hidden"

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _crud(path: str, writes: Rule = WRITERS) -> dict[tuple[str, str], Rule]:
    """A route served by a service for every method: reads for all, writes for ``writes``."""
    return {("GET", path): SIGNED_IN} | {(method, path): writes for method in WRITE_METHODS}


# The collections whose audit trail the gateway serves (their declarations say ``audited``):
# checked against what the gateway learnt from the services, below.
AUDITED_COLLECTIONS = (
    "users",
    "accounts",
    "contacts",
    "actions",
    "opportunities",
    "projects",
    "quotes",
    "invoices",
    "templates",
)
# Served by the services, forwarded by the gateway's last route: checked against the routes the
# services publish at /internal/meta, below.
FORWARDED = [
    "/api/v1/accounts",
    "/api/v1/accounts/{id}",
    "/api/v1/accounts/{id}/restore",
    "/api/v1/accounts/{id}/duplicate",
    "/api/v1/accounts/{id}/map",
    "/api/v1/accounts/{id}/mail-merge",
    "/api/v1/contacts",
    "/api/v1/contacts/{id}",
    "/api/v1/contacts/{id}/restore",
    *(
        path
        for collection in ("actions", "opportunities", "projects", "quotes", "invoices")
        for path in (
            f"/api/v1/{collection}",
            f"/api/v1/{collection}/{{id}}",
            f"/api/v1/{collection}/{{id}}/restore",
        )
    ),
    *(f"/api/v1/quotes/{{id}}/{action}" for action in ("send", "accept", "refuse", "invoice")),
    "/api/v1/quotes/{id}/pdf",
    *(f"/api/v1/invoices/{{id}}/{action}" for action in ("issue", "pay", "credit-note", "pdf")),
    "/api/v1/templates",
    "/api/v1/templates/variables",
    "/api/v1/templates/{id}",
]

TABLE: dict[tuple[str, str], Rule | str] = {
    ("GET", "/api/docs"): PUBLIC,
    ("GET", "/api/docs/assets/start.js"): PUBLIC,
    ("GET", "/api/docs/assets"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): HIDDEN,
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): SIGNED_IN,
    ("POST", "/api/v1/telephony/events"): SIGNED_CALLBACK,
    ("GET", "/api/v1/users/me"): SIGNED_IN,
    ("PATCH", "/api/v1/users/me"): SIGNED_IN,
    ("POST", "/api/v1/users/me/password"): SIGNED_IN,
    ("GET", "/api/v1/users"): ADMINS,
    # Who each username is, for everyone signed in; no write (405, not read as a user's id).
    **_crud("/api/v1/users/directory"),
    ("POST", "/api/v1/users"): ADMINS,
    ("GET", "/api/v1/users/{id}"): SELF_OR_ADMIN,
    ("PATCH", "/api/v1/users/{id}"): ADMINS,
    ("POST", "/api/v1/users/{id}/password"): OWN_WRITE,
    ("GET", "/api/v1/users/{id}/sessions"): SELF_OR_ADMIN,
    ("DELETE", "/api/v1/users/{id}/sessions"): ADMINS,
    ("DELETE", "/api/v1/users/{id}/sessions/{session_id}"): SELF_OR_ADMIN,
    ("POST", "/api/v1/accounts/{id}/call"): WRITERS,
    # A call's progress: its caller's and the admins' (404 for anyone else's).
    ("GET", "/api/v1/calls/{id}"): SIGNED_IN,
    ("GET", "/api/v1/accounts/{id}/view"): SIGNED_IN,
    # Any collection: those without a print layout answer 404.
    **{("GET", f"/api/v1/{c}/{{id}}/print"): SIGNED_IN for c in AUDITED_COLLECTIONS},
    # The declarations, for everyone signed in.
    ("GET", "/api/v1/meta/entities"): SIGNED_IN,
    **{("GET", f"/api/v1/meta/entities/{c}"): SIGNED_IN for c in AUDITED_COLLECTIONS},
    ("GET", "/api/v1/meta/events"): SIGNED_IN,
    ("POST", "/api/v1/mail-merge"): WRITERS,
    # Audit trails: any record's for everyone signed in, a user's for that user and admins.
    **{
        ("GET", f"/api/v1/{collection}/{{id}}/audit{verify}"): (
            SELF_OR_ADMIN if collection == "users" else SIGNED_IN
        )
        for collection in AUDITED_COLLECTIONS
        for verify in ("", "/verify")
    },
    **_crud("/api/v1/picklists/{name}", writes=ADMINS),
    **_crud("/api/v1/picklists/{name}/{code}", writes=ADMINS),
    **{key: rule for path in FORWARDED for key, rule in _crud(path).items()},
}

UI_PACKAGE = "services.gateway.ui"
# Values of the path's parameters: {id} is the caller's own id or a random one.
ENUMERATED = {"collection": tuple(AUDITED_COLLECTIONS)}
FIXED = {"name": "account_type", "code": "zz-roles", "session_id": str(uuid.uuid4())}
STATIC_FILE = "swagger-ui.css"
_GROUP = re.compile(r"\(\?P<(\w+)>([^)]*)\)")


@dataclass(frozen=True)
class Case:
    method: str
    template: str  # the path as the table names it: enumerated parameters filled in

    def path(self, id_value: str) -> str:
        values = {**FIXED, "id": id_value}
        return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], self.template)


def _is_page(route: web.AbstractRoute) -> bool:
    """A route of the web interface: a page (cookie session, CSRF token, then the API's own
    rules; walked by tests/e2e/test_ui_routes.py) or its assets."""
    resource = route.resource
    handler_module = getattr(route.handler, "__module__", "") or ""
    return handler_module.startswith(UI_PACKAGE) or (
        resource is not None and resource.canonical.startswith("/static")
    )


def _cases(app: web.Application) -> Iterator[Case]:
    """Every route of the app but the web interface's pages, with its method ("*": each
    method) and its enumerated values."""
    for route in app.router.routes():
        resource = route.resource
        assert resource is not None
        if _is_page(route):
            continue
        info = resource.get_info()
        if resource.name == FORWARDED_ROUTE:  # what the services serve
            templates = [*FORWARDED, "/api/v1/picklists/{name}/{code}"]
        elif "prefix" in info:  # static files
            templates = [resource.canonical]
        elif "pattern" in info:
            templates = [""]
            rest = info["pattern"].pattern
            position = 0
            for match in _GROUP.finditer(rest):
                literal = rest[position : match.start()].replace("\\", "")
                name, regex = match.groups()
                if regex == "[^{}/]+":
                    values = ENUMERATED.get(name, (f"{{{name}}}",))
                else:
                    values = tuple(regex.split("|"))
                templates = [t + literal + v for t in templates for v in values]
                position = match.end()
            tail = rest[position:].replace("\\", "")
            templates = [t + tail for t in templates]
        else:
            templates = [resource.canonical]
        methods = ("GET", *WRITE_METHODS) if route.method == "*" else (route.method,)
        for method in methods:
            for template in templates:
                yield Case(method, template)


def _rule(case: Case) -> Rule | str:
    method = "GET" if case.method == "HEAD" else case.method
    return TABLE[(method, case.template)]


@pytest.fixture(scope="module")
async def callers(platform: Platform, admin: Headers, user: Headers) -> dict[Who, Headers]:
    body = {"username": "lecteur-roles", "password": "Lecture-roles-2026", "role": "readonly"}
    status, created, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
    assert status == 201, created
    readonly = await platform.login("lecteur-roles", "Lecture-roles-2026")
    return {"anonymous": {}, "readonly": readonly, "user": user, "admin": admin}


async def _fresh_token(platform: Platform, who: Who) -> Headers:
    """Signing out ends the session: it gets a session of its own."""
    credentials = {
        "readonly": ("lecteur-roles", "Lecture-roles-2026"),
        "user": ("claire", "Claire-mot-de-passe-1"),
    }
    return await platform.login(*credentials[who]) if who in credentials else await platform.login()


async def test_every_route_the_services_publish_and_every_audited_collection_has_a_rule(
    platform: Platform, admin: Headers
) -> None:
    """The table names what the gateway learns at run time: the services' public routes (from
    their own routers) and the audited collections (from their declarations)."""
    published: set[str] = set()
    for factory, operations, name in (
        (accounts_app, accounts_operations, "accounts"),
        (activities_app, activities_operations, "activities"),
        (documents_app, documents_operations, "documents"),
    ):
        published |= set(public_routes(factory(platform.settings[name]), operations()))
    own = {"/api/v1/picklists/{name}", "/api/v1/mail-merge"}  # the gateway's own routes first
    assert published - own == {*FORWARDED, "/api/v1/picklists/{name}/{code}"}
    status, entities, _ = await platform.call("GET", "/api/v1/meta/entities", admin)
    assert status == 200
    audited = {e["collection"] for e in entities["items"] if e["audited"]}
    assert audited == set(AUDITED_COLLECTIONS)


def test_every_route_of_the_gateway_has_a_rule(platform: Platform) -> None:
    app = create_app(platform.settings["gateway"])
    cases = list(_cases(app))
    assert len(cases) > 100
    missing = sorted(
        {
            (c.method, c.template)
            for c in cases
            if (c.method, c.template) not in TABLE
            and not (c.method == "HEAD" and ("GET", c.template) in TABLE)
        }
    )
    assert not missing, f"routes without a rule in tests/e2e/test_roles.py: {missing}"


async def test_each_role_may_do_what_the_table_says_and_nothing_more(
    platform: Platform, callers: dict[Who, Headers]
) -> None:
    app = create_app(platform.settings["gateway"])
    own_ids = {
        who: (await platform.call("GET", "/api/v1/users/me", headers))[1]["id"]
        for who, headers in callers.items()
        if who != "anonymous"
    }
    wrong: list[str] = []
    checked = 0
    without_method: set[tuple[str, str]] = set()
    admin_405: set[tuple[str, str]] = set()
    for case in _cases(app):
        rule = _rule(case)
        for who in WHO:
            ids = [(str(uuid.uuid4()), False)]
            # Its own id, where that changes the answer (ending one's sessions would end the
            # tokens this test uses).
            if "{id}" in case.template and who in own_ids and "self" in vars(rule).values():
                ids.append((own_ids[who], True))
            for id_value, own in ids:
                headers = callers[who]
                if case.template == "/api/v1/auth/logout" and who != "anonymous":
                    headers = await _fresh_token(platform, who)
                path = case.path(id_value)
                if case.template == "/api/docs/assets":
                    path += "/" + STATIC_FILE
                body: dict[str, Any] | None = {} if case.method in WRITE_METHODS else None
                async with platform.http.request(
                    case.method, platform.gateway + path, headers=headers, json=body
                ) as response:
                    status = response.status
                checked += 1
                if rule == SIGNED_CALLBACK:
                    expected_ok = status == 401
                elif rule == HIDDEN:
                    expected_ok = status == 404
                else:
                    assert isinstance(rule, Rule)
                    if rule.allows(who, own):
                        expected_ok = status not in (401, 403)
                    elif who == "anonymous":
                        expected_ok = status == 401
                    else:  # 405: a method the route does not have, for anyone (checked below)
                        expected_ok = status in (403, 405)
                        if status == 405:
                            without_method.add((case.method, case.template))
                    if who == "admin" and status == 405:
                        admin_405.add((case.method, case.template))
                if not expected_ok:
                    whose = "own id" if own else "other id"
                    wrong.append(f"{who} {case.method} {case.template} ({whose}): {status}")
    assert checked > 1000
    assert not wrong, "\n".join(wrong)
    assert without_method <= admin_405, without_method - admin_405
