"""Administration: users, picklists and Word templates (administrators only).

Every read and write goes through the public API as the signed-in administrator; a refusal is
shown next to the field it names, with the rest of the input kept.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from ...registry import REGISTRY_KEY
from ...web import declared_owner
from .. import versions
from ..client import Answer, ApiError, api
from ..lookups import person
from ..render import datetime_fr, page
from ..session import web_session
from .me import (
    ROLE_LABELS,
    field_errors,
    if_match,
    password_form_errors,
    read_form,
    redirect,
    sessions_view,
    text,
)
from .records import ADDRESS_LABELS

routes = web.RouteTableDef()

ROLES = list(ROLE_LABELS.items())
USER_FIELDS = ("username", "display_name", "email", "role", "phone_extension", "password")
ADMIN_ONLY = "Cette page est réservée aux administrateurs."


def require_admin(request: web.Request) -> None:
    if not web_session(request).is_admin:
        raise web.HTTPForbidden(text=ADMIN_ONLY)


def _fait(request: web.Request, messages: Mapping[str, str]) -> str | None:
    return messages.get(request.query.get("fait", ""))


# -- users ---------------------------------------------------------------------------------------


USER_MESSAGES = {
    "cree": "L'utilisateur est créé.",
    "enregistre": "Les changements sont enregistrés.",
    "role": "Le rôle est changé : ses sessions ont été fermées, il se reconnecte avec son "
    "nouveau rôle.",
    "desactive": "L'utilisateur est désactivé : il ne peut plus se connecter et ses sessions "
    "ont été fermées.",
    "reactive": "L'utilisateur est réactivé : il peut de nouveau se connecter.",
    "mot-de-passe": "Le mot de passe est réinitialisé et ses sessions ont été fermées. "
    "Communiquez-le-lui par un moyen sûr.",
    "sessions": "Ses sessions sont fermées.",
    "session": "La session est fermée.",
}


@routes.get("/admin/utilisateurs")
async def users(request: web.Request) -> web.Response:
    require_admin(request)
    params = {"limit": "100", "sort": "username"}
    cursor = request.query.get("suite")
    if cursor:
        params["cursor"] = cursor[:500]
    answer = await api(request).call("GET", "/api/v1/users", params=params)
    if answer.status == 422 and cursor:  # a stale or edited cursor: from the start
        raise redirect("/admin/utilisateurs")
    if not answer.ok:
        raise ApiError(answer)
    data = answer.json()
    return page(
        request,
        "admin/users.html",
        users=data.get("items", []),
        next_cursor=data.get("next_cursor"),
        first_page=not cursor,
        role_labels=ROLE_LABELS,
        message=_fait(request, USER_MESSAGES),
        quote=quote,
    )


def _new_user_page(
    request: web.Request, values: Mapping[str, str], errors: Mapping[str, str], status: int = 200
) -> web.Response:
    return page(
        request, "admin/user_new.html", status=status, values=values, errors=errors, roles=ROLES
    )


@routes.get("/admin/utilisateurs/nouveau")
async def new_user(request: web.Request) -> web.Response:
    require_admin(request)
    values = {"username": "", "display_name": "", "email": "", "role": "user"}
    return _new_user_page(request, {**values, "phone_extension": ""}, {})


@routes.post("/admin/utilisateurs/nouveau")
async def create_user(request: web.Request) -> web.Response:
    require_admin(request)
    form = await read_form(request)
    values = {name: text(form, name, 200).strip() for name in USER_FIELDS if name != "password"}
    errors: dict[str, str] = {}
    if not values["username"]:
        errors["username"] = "Saisissez l'identifiant de connexion."
    if not text(form, "password"):
        errors["password"] = "Saisissez le mot de passe initial."  # noqa: S105 - a message
    if values["role"] not in ROLE_LABELS:
        errors["role"] = "Choisissez un rôle de la liste."
    if errors:
        return _new_user_page(request, values, errors, 422)
    body = {
        "username": values["username"],
        "display_name": values["display_name"],
        "email": values["email"] or None,
        "role": values["role"],
        "phone_extension": values["phone_extension"] or None,
        "password": text(form, "password"),
    }
    answer = await api(request).call("POST", "/api/v1/users", json=body)
    if answer.ok:
        raise redirect(f"/admin/utilisateurs/{answer.json()['id']}?fait=cree")
    if answer.status == 409:
        return _new_user_page(request, values, {"username": answer.detail}, 409)
    if answer.status != 422:
        raise ApiError(answer)
    return _new_user_page(request, values, field_errors(answer, USER_FIELDS, "form"), 422)


async def _user_page(
    request: web.Request,
    user_id: str,
    *,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    password_errors: Mapping[str, str] | None = None,
    action_error: str | None = None,
    status: int = 200,
) -> web.Response:
    client = api(request)
    record = await client.get(f"/api/v1/users/{quote(user_id, safe='')}")
    sessions = await client.get(f"/api/v1/users/{record['id']}/sessions")
    session = web_session(request)
    shown = values or {
        "display_name": record.get("display_name") or "",
        "email": record.get("email") or "",
        "role": record["role"],
        "phone_extension": record.get("phone_extension") or "",
    }
    return page(
        request,
        "admin/user_edit.html",
        status=status,
        record=record,
        values=shown,
        errors=errors or {},
        password_errors=password_errors or {},
        action_error=action_error,
        roles=ROLES,
        role_labels=ROLE_LABELS,
        sessions=sessions_view(sessions.get("items", [])),
        current_session=str(session.id),
        is_self=record["id"] == session.identity.user_id,
        message=_fait(request, USER_MESSAGES),
    )


@routes.get("/admin/utilisateurs/{id}")
async def user(request: web.Request) -> web.Response:
    require_admin(request)
    return await _user_page(request, request.match_info["id"])


def _user_path(request: web.Request) -> str:
    return f"/api/v1/users/{quote(request.match_info['id'], safe='')}"


def _back(request: web.Request, fait: str) -> web.HTTPSeeOther:
    return redirect(f"/admin/utilisateurs/{quote(request.match_info['id'], safe='')}?fait={fait}")


async def _conflict(request: web.Request, values: Mapping[str, Any] | None) -> web.Response:
    """A write made over someone else's: who changed the user and when, their values shown."""
    record = await api(request).get(_user_path(request))
    message = (
        "Cet utilisateur a été modifié entre-temps par "
        f"{await person(request, record.get('updated_by'))} le "
        f"{datetime_fr(record.get('updated_at'))} : voici sa fiche à jour. Refaites votre "
        "modification."
    )
    return await _user_page(
        request, request.match_info["id"], errors={"form": message}, status=412, values=values
    )


@routes.post("/admin/utilisateurs/{id}")
async def save_user(request: web.Request) -> web.Response:
    require_admin(request)
    form = await read_form(request)
    values = {
        name: text(form, name, 200).strip()
        for name in ("display_name", "email", "role", "phone_extension")
    }
    if values["role"] not in ROLE_LABELS:
        return await _user_page(
            request,
            request.match_info["id"],
            values=values,
            errors={"role": "Choisissez un rôle de la liste."},
            status=422,
        )
    patch = {
        "display_name": values["display_name"],
        "email": values["email"] or None,
        "role": values["role"],
        "phone_extension": values["phone_extension"] or None,
    }
    headers = if_match(form)
    if headers is None:
        return await _user_page(
            request,
            request.match_info["id"],
            values=values,
            errors={"form": versions.VERSION_UNREADABLE},
            status=versions.REFUSED_STATUS,
        )
    client = api(request)
    before = await client.get(_user_path(request))
    answer = await client.call("PATCH", _user_path(request), json=patch, headers=headers)
    if answer.ok:
        saved = answer.json()
        session = web_session(request)
        if saved["id"] == session.identity.user_id:  # one's own name, in the user's menu too
            session.display_name = saved.get("display_name") or session.identity.username
        raise _back(request, "role" if saved["role"] != before["role"] else "enregistre")
    if answer.status == 412:
        return await _conflict(request, None)
    if answer.status not in (409, 422):
        raise ApiError(answer)
    fields = ("display_name", "email", "role", "phone_extension")
    errors = field_errors(answer, fields, "form")
    if answer.status == 409:
        errors = {"form": answer.detail}
    return await _user_page(
        request, request.match_info["id"], values=values, errors=errors, status=answer.status
    )


@routes.post("/admin/utilisateurs/{id}/activation")
async def user_activation(request: web.Request) -> web.Response:
    require_admin(request)
    form = await read_form(request)
    active = text(form, "active") == "oui"
    headers = if_match(form)
    if headers is None:
        return await _user_page(
            request,
            request.match_info["id"],
            action_error=versions.VERSION_UNREADABLE,
            status=versions.REFUSED_STATUS,
        )
    answer = await api(request).call(
        "PATCH", _user_path(request), json={"active": active}, headers=headers
    )
    if answer.ok:
        raise _back(request, "reactive" if active else "desactive")
    if answer.status == 412:
        return await _conflict(request, None)
    if answer.status not in (409, 422):
        raise ApiError(answer)
    return await _user_page(
        request,
        request.match_info["id"],
        action_error=answer.detail or "Le changement a été refusé.",
        status=answer.status,
    )


def _is_own(request: web.Request) -> bool:
    """The user of the address is the one signed in (whatever the id's spelling)."""
    try:
        return uuid.UUID(request.match_info["id"]) == uuid.UUID(
            web_session(request).identity.user_id
        )
    except ValueError:
        return False


@routes.post("/admin/utilisateurs/{id}/mot-de-passe")
async def user_password(request: web.Request) -> web.Response:
    require_admin(request)
    form = await read_form(request)
    errors = password_form_errors(form, current=False)
    if _is_own(request):
        # One's own needs the current password (checked and throttled like a sign-in): the
        # API is not even asked here, so no attempt is counted against its user name.
        errors = {"form": "Pour votre propre mot de passe, passez par « Mon profil »."}
    if not errors:
        answer = await api(request).call(
            "POST",
            f"{_user_path(request)}/password",
            json={"new_password": text(form, "new_password")},
        )
        if answer.ok:
            raise _back(request, "mot-de-passe")
        if answer.status == 401:  # one's own sessions ended with it
            raise redirect("/connexion?fin=expiree")
        if answer.status != 422:
            raise ApiError(answer)
        errors = field_errors(answer, ("new_password",), "form")
    return await _user_page(request, request.match_info["id"], password_errors=errors, status=422)


@routes.post("/admin/utilisateurs/{id}/sessions/fin")
async def end_user_sessions(request: web.Request) -> web.Response:
    require_admin(request)
    answer = await api(request).call("DELETE", f"{_user_path(request)}/sessions")
    if answer.status == 401:  # one's own, this one included
        raise redirect("/connexion?fin=expiree")
    if not answer.ok:
        raise ApiError(answer)
    if _is_own(request):
        raise redirect("/connexion?fin=expiree")
    raise _back(request, "sessions")


@routes.post("/admin/utilisateurs/{id}/sessions/{session_id}/fin")
async def end_user_session(request: web.Request) -> web.Response:
    require_admin(request)
    session_id = request.match_info["session_id"]
    answer = await api(request).call(
        "DELETE", f"{_user_path(request)}/sessions/{quote(session_id, safe='')}"
    )
    if answer.status == 401:
        raise redirect("/connexion?fin=expiree")
    if not answer.ok and answer.status != 404:  # 404: ended meanwhile
        raise ApiError(answer)
    if session_id == str(web_session(request).id):
        raise redirect("/connexion?fin=deconnecte")
    raise _back(request, "session")


# -- picklists -----------------------------------------------------------------------------------


PICKLIST_MESSAGES = {
    "ajoute": "La valeur est ajoutée.",
    "renomme": "La valeur est renommée.",
    "deplace": "L'ordre est enregistré.",
    "desactive": "La valeur est désactivée : les fiches qui la portent la gardent, elle n'est "
    "plus proposée.",
    "reactive": "La valeur est réactivée : elle est de nouveau proposée.",
}
EDIT_ROUTE = "/api/v1/picklists/{name}/{code}"


def declared_picklists(request: web.Request) -> dict[str, dict[str, Any]]:
    """Every picklist the declarations' list fields use: name → the fields that use it and
    whether its values can be changed (its service serves the change)."""
    registry = request.app[REGISTRY_KEY]
    lists: dict[str, dict[str, Any]] = {}
    for entity in registry.entities():
        for field in entity.get("fields", []):
            name = field.get("picklist")
            if field.get("kind") != "list" or not name:
                continue
            entry = lists.setdefault(
                name,
                {"name": name, "uses": [], "label": field["label"], "of": entity["plural"]},
            )
            entry["uses"].append(f"{entity['label']} › {field['label']}")
    labels = [entry["label"] for entry in lists.values()]
    for entry in lists.values():  # two lists named alike ("Statut") say whose they are
        if labels.count(entry["label"]) > 1:
            entry["label"] = f"{entry['label']} ({entry['of'].lower()})"
    for name, entry in lists.items():
        owner = declared_owner(registry, name) or "accounts"
        meta = registry.meta(owner)
        entry["editable"] = meta is not None and EDIT_ROUTE in meta.get("routes", [])
    return dict(sorted(lists.items(), key=lambda item: (not item[1]["editable"], item[1]["label"])))


async def _values(request: web.Request, name: str) -> list[dict[str, Any]] | None:
    answer = await api(request).call("GET", f"/api/v1/picklists/{quote(name, safe='')}")
    if not answer.ok:
        return None
    data = answer.json()
    return [v for v in data.get("values", []) if isinstance(v, dict)]


async def _picklists_page(
    request: web.Request,
    *,
    errors: Mapping[tuple[str, str], Mapping[str, str]] | None = None,
    kept: Mapping[tuple[str, str], Mapping[str, str]] | None = None,
    status: int = 200,
) -> web.Response:
    lists = declared_picklists(request)
    values = await asyncio.gather(*(_values(request, name) for name in lists))
    return page(
        request,
        "admin/picklists.html",
        status=status,
        lists=[
            {**entry, "values": found} for entry, found in zip(lists.values(), values, strict=True)
        ],
        errors=errors or {},
        kept=kept or {},
        message=_fait(request, PICKLIST_MESSAGES),
    )


@routes.get("/admin/listes")
async def picklists(request: web.Request) -> web.Response:
    require_admin(request)
    return await _picklists_page(request)


def _known_list(request: web.Request) -> str:
    name = request.match_info["name"]
    if name not in declared_picklists(request):
        raise web.HTTPNotFound(text="Cette liste de valeurs n'existe pas.")
    return name


def _picklist_done(name: str, fait: str) -> web.HTTPSeeOther:
    return redirect(f"/admin/listes?fait={fait}#liste-{name}")


async def _picklist_refused(
    request: web.Request, answer: Answer, key: tuple[str, str], kept: Mapping[str, str]
) -> web.Response:
    if answer.status not in (404, 409, 422):
        raise ApiError(answer)
    errors = field_errors(answer, ("code", "label", "position", "active"), "form")
    if answer.status == 409:
        errors = {"code": answer.detail}
    return await _picklists_page(
        request, errors={key: errors}, kept={key: kept}, status=answer.status
    )


@routes.post("/admin/listes/{name}")
async def add_value(request: web.Request) -> web.Response:
    require_admin(request)
    name = _known_list(request)
    form = await read_form(request)
    kept = {"code": text(form, "code", 60).strip(), "label": text(form, "label", 300).strip()}
    key = (name, "")
    errors: dict[str, str] = {}
    if not kept["code"]:
        errors["code"] = "Saisissez le code de la valeur."
    if not kept["label"]:
        errors["label"] = "Saisissez le libellé de la valeur."
    if errors:
        return await _picklists_page(request, errors={key: errors}, kept={key: kept}, status=422)
    current = await _values(request, name) or []
    position = max((int(v.get("position") or 0) for v in current), default=0) + 1
    answer = await api(request).call(
        "POST", f"/api/v1/picklists/{name}", json={**kept, "position": min(position, 10_000)}
    )
    if answer.ok:
        raise _picklist_done(name, "ajoute")
    return await _picklist_refused(request, answer, key, kept)


def _value_path(name: str, code: str) -> str:
    return f"/api/v1/picklists/{name}/{quote(code, safe='')}"


@routes.post("/admin/listes/{name}/{code}")
async def rename_value(request: web.Request) -> web.Response:
    require_admin(request)
    name, code = _known_list(request), request.match_info["code"]
    form = await read_form(request)
    kept = {"label": text(form, "label", 300).strip()}
    key = (name, code)
    if not kept["label"]:
        errors = {key: {"label": "Saisissez le libellé de la valeur."}}
        return await _picklists_page(request, errors=errors, kept={key: kept}, status=422)
    answer = await api(request).call("PATCH", _value_path(name, code), json=kept)
    if answer.ok:
        raise _picklist_done(name, "renomme")
    return await _picklist_refused(request, answer, key, kept)


@routes.post("/admin/listes/{name}/{code}/position")
async def move_value(request: web.Request) -> web.Response:
    """Put a value at the position posted (1 is the first): every value whose position changes
    is renumbered, so the list's order is exactly the one shown."""
    require_admin(request)
    name, code = _known_list(request), request.match_info["code"]
    form = await read_form(request)
    current = await _values(request, name)
    codes = [str(v["code"]) for v in current or []]
    wanted = text(form, "position", 6)
    if current is None or code not in codes or not wanted.isdigit():
        raise web.HTTPBadRequest(text="Position ou valeur inconnue : rechargez la page.")
    codes.remove(code)
    codes.insert(max(0, min(int(wanted) - 1, len(codes))), code)
    positions = {str(v["code"]): v.get("position") for v in current}
    client = api(request)
    for index, each in enumerate(codes, start=1):
        if positions[each] != index:
            answer = await client.call("PATCH", _value_path(name, each), json={"position": index})
            if not answer.ok:
                return await _picklist_refused(request, answer, (name, code), {})
    raise _picklist_done(name, "deplace")


@routes.post("/admin/listes/{name}/{code}/activation")
async def value_activation(request: web.Request) -> web.Response:
    require_admin(request)
    name, code = _known_list(request), request.match_info["code"]
    form = await read_form(request)
    active = text(form, "active") == "oui"
    answer = await api(request).call("PATCH", _value_path(name, code), json={"active": active})
    if answer.ok:
        raise _picklist_done(name, "reactive" if active else "desactive")
    return await _picklist_refused(request, answer, (name, code), {})


# -- Word templates ------------------------------------------------------------------------------


TEMPLATE_MESSAGES = {
    "ajoute": "Le modèle est enregistré : il est proposé dans Fusionner.",
    "supprime": "Le modèle est supprimé.",
}
TEMPLATE_FIELDS = ("name", "kind", "file")


def _entity(request: web.Request, name: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = request.app[REGISTRY_KEY].entity_named(name)
    return found


def _record_variables(entity: dict[str, Any] | None, prefix: str) -> list[dict[str, str]]:
    """A record's own fields, as its declaration says (GET /api/v1/meta/entities), by the name
    a template writes them."""
    rows: list[dict[str, str]] = []
    for field in (entity or {}).get("fields", []):
        if field.get("kind") == "address":
            rows += [
                {
                    "name": f"{prefix}.{field['name']}.{part}",
                    "what": f"{field['label']} : {ADDRESS_LABELS.get(part, part).lower()}",
                }
                for part in field.get("parts", [])
            ]
        elif field.get("kind") not in ("object", "location"):
            what = field["label"]
            if field.get("kind") == "list":
                what += " (le code de la valeur)"
            elif field.get("kind") == "connection" and field.get("key") == "username":
                what += " (son identifiant de connexion)"
            elif field.get("kind") == "connection":
                what += " (l'identifiant de la fiche liée)"
            rows.append({"name": f"{prefix}.{field['name']}", "what": what})
    return rows


async def template_variables(request: web.Request) -> tuple[list[dict[str, Any]], list[str]]:
    """The variables a template may use, in groups, as the documents service says
    (GET /api/v1/templates/variables), each record's own fields from its declaration; and the
    names a template may use at its top level (any other is empty when merged)."""
    served = await api(request).get("/api/v1/templates/variables")
    groups = []
    for group in served.get("groups", []):
        record = group.get("record") or {}
        rows = (
            _record_variables(_entity(request, record["entity"]), record["prefix"])
            if record.get("entity") and record.get("prefix")
            else []
        )
        rows += [{"name": v["name"], "what": v["description"]} for v in group["variables"]]
        groups.append({"title": group["title"], "hint": group.get("hint") or "", "rows": rows})
    return groups, list(served.get("names", []))


def _kinds(request: web.Request) -> list[tuple[str, str]]:
    entity = _entity(request, "template") or {}
    for field in entity.get("fields", []):
        if field["name"] == "kind":
            return [(c["code"], c["label"]) for c in field.get("choices", [])]
    return [("account", "Compte")]


async def _templates_page(
    request: web.Request,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    data, (groups, known) = await asyncio.gather(
        api(request).get("/api/v1/templates", {"limit": "200", "sort": "name"}),
        template_variables(request),
    )
    kinds = _kinds(request)
    return page(
        request,
        "admin/templates.html",
        status=status,
        templates=data.get("items", []),
        kinds=kinds,
        kind_labels=dict(kinds),
        values=values or {"name": "", "kind": "account"},
        errors=errors or {},
        groups=groups,
        known=known,
        max_bytes=request.client_max_size,  # what the gateway accepts at most
        message=_fait(request, TEMPLATE_MESSAGES),
    )


@routes.get("/admin/modeles")
async def templates(request: web.Request) -> web.Response:
    require_admin(request)
    return await _templates_page(request)


@routes.post("/admin/modeles")
async def upload_template(request: web.Request) -> web.Response:
    require_admin(request)
    form = await read_form(request)
    values = {"name": text(form, "name", 200).strip(), "kind": text(form, "kind", 50)}
    upload = form.get("file")
    body = aiohttp.FormData(default_to_multipart=True)
    body.add_field("name", values["name"])
    body.add_field("kind", values["kind"])
    if isinstance(upload, web.FileField) and upload.filename:
        body.add_field(
            "file",
            upload.file,  # a file, streamed: a few megabytes must not hold the event loop
            filename=upload.filename,
            content_type=upload.content_type or "application/octet-stream",
        )
    answer = await api(request).call("POST", "/api/v1/templates", data=body)
    if answer.ok:
        raise redirect("/admin/modeles?fait=ajoute")
    if answer.status not in (413, 415, 422):
        raise ApiError(answer)
    errors = field_errors(answer, TEMPLATE_FIELDS, "form")
    if answer.status in (413, 415):
        errors = {"file": answer.detail}
    return await _templates_page(request, values=values, errors=errors, status=answer.status)


def _template_path(request: web.Request) -> str:
    return f"/api/v1/templates/{quote(request.match_info['id'], safe='')}"


@routes.get("/admin/modeles/{id}/supprimer")
async def confirm_delete_template(request: web.Request) -> web.Response:
    require_admin(request)
    template = await api(request).get(_template_path(request))
    return page(request, "admin/template_delete.html", model=template)


@routes.post("/admin/modeles/{id}/supprimer")
async def delete_template(request: web.Request) -> web.Response:
    require_admin(request)
    answer = await api(request).call("DELETE", _template_path(request))
    if not answer.ok and answer.status != 404:  # 404: deleted meanwhile
        raise ApiError(answer)
    raise redirect("/admin/modeles?fait=supprime")
