"""The user's menu: my profile and phone extension, my open sessions, my password.

Every role may use these pages (read-only users included): the API lets anyone change their own
profile and password and end their own sessions. The phone extension (what ClickToCall rings)
is set by an administrator: an administrator changes their own here, others see it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from .. import versions
from ..client import Answer, ApiError, api
from ..lookups import person
from ..render import datetime_fr, page
from ..session import web_session

routes = web.RouteTableDef()

ROLE_LABELS = {"admin": "Administrateur", "user": "Utilisateur", "readonly": "Lecture seule"}
PROFILE_FIELDS = ("display_name", "email", "phone_extension")
MAX_TEXT = 1024  # no form value of these pages is longer


# -- helpers shared with the administration pages ------------------------------------------------


async def read_form(request: web.Request) -> MultiDictProxy[Any]:
    return await request.post()


def text(form: Mapping[str, Any], name: str, limit: int = MAX_TEXT) -> str:
    """A text field of a posted form ("" when missing or a file), at most ``limit`` characters."""
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def field_errors(answer: Answer, known: tuple[str, ...], fallback: str) -> dict[str, str]:
    """The API's messages by form field: each known field's next to it, the others (and a
    refusal without field messages) under ``fallback`` (shown in the summary)."""
    errors: dict[str, str] = {}
    for error in answer.field_errors:
        name = error.field.split(".")[0] if error.field else ""
        key = name if name in known else fallback
        message = error.message if key == name else f"{error.field} : {error.message}"
        errors[key] = f"{errors[key]} {message}" if key in errors else message
    if not errors:
        errors[fallback] = answer.detail or "La demande a été refusée."
    return errors


def if_match(form: Mapping[str, Any]) -> dict[str, str] | None:
    """The ``If-Match`` of the form's ``version``, or None when it is missing or unreadable:
    the save is then refused (versions.VERSION_UNREADABLE), never sent unconditionally."""
    return versions.if_match(text(form, "version", 20))


def redirect(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)


def sessions_view(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Open sessions as the pages show them: the browser named in words."""
    return [{**item, "browser": browser_name(item.get("user_agent"))} for item in items]


def browser_name(agent: Any) -> str:
    if not agent:
        return "Client inconnu"
    text_agent = str(agent)
    for token, name in (
        ("Edg/", "Microsoft Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome ou Chromium"),
        ("Safari/", "Safari"),
        ("python", "Client de l'API"),
        ("curl", "Client de l'API"),
    ):
        if token.lower() in text_agent.lower():
            return name
    return text_agent[:60]


# -- my profile ----------------------------------------------------------------------------------


MESSAGES = {
    "enregistre": "Votre profil est enregistré.",
    "session": "La session est fermée.",
    "mot-de-passe": "Votre mot de passe est changé. Vos autres sessions ont été fermées.",
}


async def _profile_page(
    request: web.Request,
    *,
    me: dict[str, Any],
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> web.Response:
    session = web_session(request)
    sessions = await api(request).get(f"/api/v1/users/{me['id']}/sessions")
    shown = values if values is not None else {k: me.get(k) or "" for k in PROFILE_FIELDS}
    return page(
        request,
        "me/profile.html",
        status=status,
        me=me,
        role_label=ROLE_LABELS.get(me["role"], me["role"]),
        values=shown,
        errors=errors or {},
        message=message,
        sessions=sessions_view(sessions.get("items", [])),
        current_session=str(session.id),
        extension_editable=session.is_admin,
    )


@routes.get("/moi")
async def profile(request: web.Request) -> web.Response:
    me = await api(request).get("/api/v1/users/me")
    return await _profile_page(request, me=me, message=MESSAGES.get(request.query.get("fait", "")))


@routes.post("/moi")
async def save_profile(request: web.Request) -> web.Response:
    session = web_session(request)
    form = await read_form(request)
    values = {name: text(form, name, 200).strip() for name in PROFILE_FIELDS}
    patch: dict[str, Any] = {
        "display_name": values["display_name"],
        "email": values["email"] or None,
    }
    path = "/api/v1/users/me"
    if session.is_admin:  # the extension is an administrator's to set: their own included
        patch["phone_extension"] = values["phone_extension"] or None
        path = f"/api/v1/users/{session.identity.user_id}"
    headers = if_match(form)
    if headers is None:
        me = await api(request).get("/api/v1/users/me")
        return await _profile_page(
            request,
            me=me,
            values=values,
            errors={"form": versions.VERSION_UNREADABLE},
            status=versions.REFUSED_STATUS,
        )
    answer = await api(request).call("PATCH", path, json=patch, headers=headers)
    if answer.ok:
        session.display_name = answer.json().get("display_name") or session.identity.username
        raise redirect("/moi?fait=enregistre")
    if answer.status not in (409, 412, 422):
        raise ApiError(answer)
    me = await api(request).get("/api/v1/users/me")
    if answer.status == 412:
        return await _profile_page(
            request,
            me=me,
            errors={
                "form": (
                    "Votre profil a été modifié entre-temps par "
                    f"{await person(request, me.get('updated_by'))} le "
                    f"{datetime_fr(me.get('updated_at'))} : voici ce qu'il contient maintenant. "
                    "Refaites votre modification."
                )
            },
            status=412,
        )
    errors = field_errors(answer, PROFILE_FIELDS, "form")
    return await _profile_page(request, me=me, values=values, errors=errors, status=answer.status)


@routes.post("/moi/sessions/{session_id}/fin")
async def end_my_session(request: web.Request) -> web.Response:
    session = web_session(request)
    session_id = request.match_info["session_id"]
    answer = await api(request).call(
        "DELETE", f"/api/v1/users/{session.identity.user_id}/sessions/{session_id}"
    )
    if answer.status == 404:
        raise redirect("/moi?fait=session")  # ended meanwhile: what was asked is done
    if not answer.ok:
        raise ApiError(answer)
    if session_id == str(session.id):
        raise redirect("/connexion?fin=deconnecte")
    raise redirect("/moi?fait=session")


# -- my password ---------------------------------------------------------------------------------


PASSWORD_FIELDS = ("current_password", "new_password", "confirmation")


def password_form_errors(form: Mapping[str, Any], *, current: bool) -> dict[str, str]:
    """What is refused before asking the API: empty fields, a confirmation that differs."""
    errors: dict[str, str] = {}
    if current and not text(form, "current_password"):
        errors["current_password"] = "Saisissez votre mot de passe actuel."  # noqa: S105
    new = text(form, "new_password")
    if not new:
        errors["new_password"] = "Saisissez le nouveau mot de passe."  # noqa: S105
    if text(form, "confirmation") != new:
        errors["confirmation"] = "La confirmation ne correspond pas au nouveau mot de passe."
    return errors


@routes.get("/moi/mot-de-passe")
async def password_form(request: web.Request) -> web.Response:
    return page(request, "me/password.html", errors={})


@routes.post("/moi/mot-de-passe")
async def change_password(request: web.Request) -> web.Response:
    form = await read_form(request)
    errors = password_form_errors(form, current=True)
    if errors:
        return page(request, "me/password.html", status=422, errors=errors)
    answer = await api(request).call(
        "POST",
        "/api/v1/users/me/password",
        json={
            "current_password": text(form, "current_password"),
            "new_password": text(form, "new_password"),
        },
    )
    if answer.status == 401:  # the API ended this session too: sign in with the new password
        raise redirect("/connexion?fin=expiree")
    if answer.ok:
        raise redirect("/moi?fait=mot-de-passe")
    if answer.status == 429:  # too many wrong current passwords: the wait, at the field
        wait = answer.detail or "Trop de tentatives : réessayez plus tard."
        retry = answer.headers.get("Retry-After")
        return page(
            request,
            "me/password.html",
            status=429,
            headers={"Retry-After": retry} if retry else None,
            errors={"current_password": wait},
        )
    if answer.status != 422:
        raise ApiError(answer)
    errors = field_errors(answer, PASSWORD_FIELDS, "form")
    return page(request, "me/password.html", status=422, errors=errors)
