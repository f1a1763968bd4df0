"""The user's menu (/moi) and the administration pages (/admin/...), over HTTP: what each page
shows, what each form changes (checked through the API), the refusals shown next to their
fields with the input kept, and the 403 page for those who are not administrators."""

from __future__ import annotations

import html
import io
import re
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.platform import Platform
from tests.support import word_template
from tests.ui_support import Page, WebUser

pytestmark = pytest.mark.e2e

PASSWORD = "Un-mot-de-passe-solide-1"
NEW_PASSWORD = "Un-autre-mot-de-passe-2"
Headers = dict[str, str]


def text_of(page: Page) -> str:
    """The page's text, tags dropped and entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


def field_error(page: Page, field_id: str) -> str:
    """The message shown next to the input ``field_id`` (its .field-error), "" when none."""
    found = re.search(
        rf'<span class="field-error" id="{re.escape(field_id)}-erreur">([^<]*)</span>', page.text
    )
    return html.unescape(found.group(1)) if found else ""


def input_value(page: Page, field_id: str) -> str | None:
    found = re.search(rf'<input id="{re.escape(field_id)}"[^>]*>', page.text)
    if not found:
        return None
    value = re.search(r'value="([^"]*)"', found.group(0))
    return html.unescape(value.group(1)) if value else ""


async def new_user(platform: Platform, admin: Headers, role: str = "user") -> dict[str, str]:
    username = f"ui-{role}-{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": PASSWORD, "role": role, "display_name": "Jeanne"}
    status, created, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
    assert status == 201, created
    return dict(created)


@pytest.fixture
async def web(platform: Platform) -> AsyncIterator[WebUser]:
    """The administrator, signed in on the web interface."""
    user = WebUser(platform.gateway)
    page = await user.sign_in()
    assert page.status == 200, page.text
    yield user
    await user.close()


def form_version(page: Page) -> str:
    """The version a page's form was loaded with (its hidden ``version`` input)."""
    found = re.search(r'name="version" value="(\d+)"', page.text)
    assert found is not None, page.text[:500]
    return found[1]


async def signed_in(platform: Platform, username: str, password: str = PASSWORD) -> WebUser:
    user = WebUser(platform.gateway)
    page = await user.sign_in(username, password)
    assert page.status == 200, page.text
    assert "/connexion" not in page.url, page.text
    return user


# -- /moi ----------------------------------------------------------------------------------------


async def test_my_profile_shows_who_i_am_and_my_open_sessions(
    platform: Platform, admin: Headers
) -> None:
    created = await new_user(platform, admin)
    other = await signed_in(platform, created["username"])  # a second session of the same user
    me = await signed_in(platform, created["username"])
    try:
        page = await me.get("/moi")
        assert page.status == 200
        shown = text_of(page)
        assert created["username"] in shown
        assert "Utilisateur" in shown
        assert input_value(page, "display_name") == "Jeanne"
        assert shown.count("cette session") == 1
        assert len(re.findall(r'action="/moi/sessions/[0-9a-f-]+/fin"', page.text)) == 2
        # The extension is an administrator's to set: shown, not an input.
        assert input_value(page, "phone_extension") is None
        assert "attribué par un administrateur" in shown

        # Ending the other session signs it out.
        current = re.search(
            r'<tr class="current">.*?action="/moi/sessions/([0-9a-f-]+)/fin"', page.text, re.S
        )
        assert current is not None
        ids = re.findall(r'action="/moi/sessions/([0-9a-f-]+)/fin"', page.text)
        other_id = next(i for i in ids if i != current.group(1))
        page = await me.post(f"/moi/sessions/{other_id}/fin", {})
        assert page.url.endswith("/moi?fait=session")
        assert "La session est fermée" in text_of(page)
        assert "/connexion" in (await other.get("/moi")).url
        assert (await me.get("/moi")).status == 200
    finally:
        await me.close()
        await other.close()


async def test_my_profile_saves_and_keeps_refused_input(platform: Platform, admin: Headers) -> None:
    created = await new_user(platform, admin)
    me = await signed_in(platform, created["username"])
    try:
        await me.get("/moi")
        version = re.search(r'name="version" value="(\d+)"', (await me.get("/moi")).text)
        assert version is not None
        page = await me.post(
            "/moi",
            {"display_name": "Jeanne Martin", "email": "pas-une-adresse", "version": version[1]},
        )
        assert page.status == 422
        assert field_error(page, "email"), page.text
        assert input_value(page, "display_name") == "Jeanne Martin"
        assert input_value(page, "email") == "pas-une-adresse"

        page = await me.post(
            "/moi",
            {"display_name": "Jeanne Martin", "email": "jeanne@example.fr", "version": version[1]},
        )
        assert page.status == 200
        assert page.url.endswith("/moi?fait=enregistre")
        assert "Votre profil est enregistré" in text_of(page)
        assert "Jeanne Martin" in page.text  # the user's menu too
        _status, record, _ = await platform.call("GET", f"/api/v1/users/{created['id']}", admin)
        assert (record["display_name"], record["email"]) == ("Jeanne Martin", "jeanne@example.fr")

        # The version read before is stale now: said, not written over.
        page = await me.post("/moi", {"display_name": "Autre", "version": version[1]})
        assert page.status == 412
        assert "modifié entre-temps" in text_of(page)
        _status, record, _ = await platform.call("GET", f"/api/v1/users/{created['id']}", admin)
        assert record["display_name"] == "Jeanne Martin"
    finally:
        await me.close()


VERSION_UNREADABLE = (
    "La version de la fiche manque ou est illisible : rechargez la fiche avant d'enregistrer."
)
BAD_VERSIONS = ["", "abc", "-1", "1.0", "²", None]


@pytest.mark.parametrize("posted", BAD_VERSIONS)
async def test_my_profile_without_a_readable_version_is_refused_and_writes_nothing(
    platform: Platform, admin: Headers, posted: str | None
) -> None:
    created = await new_user(platform, admin)
    me = await signed_in(platform, created["username"])
    try:
        form = {"display_name": "Jeanne Écrasée", "email": "jeanne@example.fr"}
        if posted is not None:
            form["version"] = posted
        page = await me.post("/moi", form)
        assert page.status == 428, page.text[:500]
        assert VERSION_UNREADABLE in text_of(page)
        assert input_value(page, "display_name") == "Jeanne Écrasée"
        assert input_value(page, "email") == "jeanne@example.fr"
        _status, record, _ = await platform.call("GET", f"/api/v1/users/{created['id']}", admin)
        assert (record["display_name"], record["email"]) == ("Jeanne", None)
        assert record["version"] == created["version"]
    finally:
        await me.close()


@pytest.mark.parametrize("posted", BAD_VERSIONS)
async def test_a_user_edit_without_a_readable_version_is_refused_and_writes_nothing(
    platform: Platform, admin: Headers, web: WebUser, posted: str | None
) -> None:
    created = await new_user(platform, admin)
    form = {"display_name": "Écrasé", "email": "", "role": "readonly", "phone_extension": "42"}
    if posted is not None:
        form["version"] = posted
    page = await web.post(f"/admin/utilisateurs/{created['id']}", form)
    assert page.status == 428, page.text[:500]
    assert VERSION_UNREADABLE in text_of(page)
    assert input_value(page, "display_name") == "Écrasé"
    activation = {"active": "non"} if posted is None else {"active": "non", "version": posted}
    page = await web.post(f"/admin/utilisateurs/{created['id']}/activation", activation)
    assert page.status == 428, page.text[:500]
    assert VERSION_UNREADABLE in text_of(page)
    _status, record, _ = await platform.call("GET", f"/api/v1/users/{created['id']}", admin)
    assert (record["display_name"], record["role"], record["active"]) == ("Jeanne", "user", True)
    assert record["phone_extension"] is None
    assert record["version"] == created["version"]


async def test_an_administrator_sets_their_own_extension_on_their_profile(
    platform: Platform, admin: Headers
) -> None:
    created = await new_user(platform, admin, role="admin")
    me = await signed_in(platform, created["username"])
    try:
        page = await me.get("/moi")
        assert input_value(page, "phone_extension") == ""
        version = form_version(page)
        page = await me.post(
            "/moi", {"display_name": "Jeanne", "phone_extension": "12 a", "version": version}
        )
        assert page.status == 422
        assert field_error(page, "phone_extension")
        assert input_value(page, "phone_extension") == "12 a"
        page = await me.post(
            "/moi", {"display_name": "Jeanne", "phone_extension": "2104", "version": version}
        )
        assert page.url.endswith("/moi?fait=enregistre")
        assert input_value(page, "phone_extension") == "2104"
        _status, record, _ = await platform.call("GET", f"/api/v1/users/{created['id']}", admin)
        assert record["phone_extension"] == "2104"
    finally:
        await me.close()


async def test_changing_my_password_shows_each_refusal_next_to_its_field(
    platform: Platform, admin: Headers
) -> None:
    created = await new_user(platform, admin, role="readonly")  # readonly users may too
    other = await signed_in(platform, created["username"])
    me = await signed_in(platform, created["username"])
    try:
        page = await me.get("/moi/mot-de-passe")
        assert page.status == 200
        assert "Changer mon mot de passe" in page.text
        cases = [
            ({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirmation": "x"},
             "confirmation", "ne correspond pas"),
            ({"current_password": "", "new_password": NEW_PASSWORD, "confirmation": NEW_PASSWORD},
             "current_password", "mot de passe actuel"),
            ({"current_password": PASSWORD, "new_password": "court", "confirmation": "court"},
             "new_password", "12 caractères"),
            ({"current_password": PASSWORD, "new_password": "password1234",
              "confirmation": "password1234"}, "new_password", "plus courants"),
            ({"current_password": "faux-mot-de-passe", "new_password": NEW_PASSWORD,
              "confirmation": NEW_PASSWORD}, "current_password", "incorrect"),
        ]  # fmt: skip
        for form, field, words in cases:
            page = await me.post("/moi/mot-de-passe", form)
            assert page.status == 422, (form, page.status)
            assert words in field_error(page, field).lower() or words in field_error(page, field)
            assert (
                "value=" not in (re.search(r'<input id="new_password"[^>]*>', page.text) or [""])[0]
            )

        page = await me.post(
            "/moi/mot-de-passe",
            {"current_password": PASSWORD, "new_password": NEW_PASSWORD,
             "confirmation": NEW_PASSWORD},
        )  # fmt: skip
        assert page.url.endswith("/moi?fait=mot-de-passe")
        assert "Vos autres sessions ont été fermées" in text_of(page)
        assert "/connexion" in (await other.get("/moi")).url  # the other session ended
        assert (await me.get("/moi")).status == 200  # this one goes on
        again = await signed_in(platform, created["username"], NEW_PASSWORD)
        await again.close()
    finally:
        await me.close()
        await other.close()


# -- who may see the administration --------------------------------------------------------------


ADMIN_PAGES = ("/admin/utilisateurs", "/admin/listes", "/admin/modeles")


@pytest.mark.parametrize("role", ["user", "readonly"])
async def test_administration_is_refused_to_others_with_a_french_page(
    platform: Platform, admin: Headers, role: str
) -> None:
    created = await new_user(platform, admin, role=role)
    someone = await signed_in(platform, created["username"])
    try:
        home = await someone.get("/moi")
        assert home.status == 200
        assert "/admin/utilisateurs" not in home.text
        for path in (
            *ADMIN_PAGES,
            "/admin/utilisateurs/nouveau",
            f"/admin/utilisateurs/{created['id']}",
        ):
            page = await someone.get(path)
            assert page.status == 403, path
            assert "réservée aux administrateurs" in text_of(page)
        for path, form in (
            ("/admin/utilisateurs/nouveau", {"username": "pirate", "password": PASSWORD, "role": "admin"}),
            (f"/admin/utilisateurs/{created['id']}", {"role": "admin", "display_name": "x"}),
            ("/admin/listes/industry", {"code": "pirate", "label": "Pirate"}),
        ):  # fmt: skip
            page = await someone.post(path, form)
            assert page.status == 403, path
        _status, record, _ = await platform.call("GET", f"/api/v1/users/{created['id']}", admin)
        assert record["role"] == role
    finally:
        await someone.close()


# -- users ---------------------------------------------------------------------------------------


async def test_an_administrator_creates_a_user_with_refusals_next_to_the_fields(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    page = await web.get("/admin/utilisateurs")
    assert page.status == 200
    assert "admin" in text_of(page)
    assert "Administrateur" in text_of(page)
    page = await web.get("/admin/utilisateurs/nouveau")
    assert all(label in page.text for label in ("Administrateur", "Utilisateur", "Lecture seule"))

    username = f"ui-new-{uuid.uuid4().hex[:8]}"
    form = {"username": "é", "display_name": "Paul Durand", "email": "paul@example.fr",
            "role": "readonly", "phone_extension": "2105", "password": "court"}  # fmt: skip
    page = await web.post("/admin/utilisateurs/nouveau", form)
    assert page.status == 422
    assert field_error(page, "username")
    assert "12 caractères" in field_error(page, "password")
    assert input_value(page, "display_name") == "Paul Durand"
    assert input_value(page, "phone_extension") == "2105"
    assert re.search(r'<option value="readonly" selected>', page.text)

    page = await web.post("/admin/utilisateurs/nouveau", {**form, "username": "", "password": ""})
    assert page.status == 422
    assert field_error(page, "username")
    assert field_error(page, "password")

    page = await web.post(
        "/admin/utilisateurs/nouveau", {**form, "username": username, "password": PASSWORD}
    )
    assert page.status == 200, page.text
    assert "?fait=cree" in page.url
    assert "L'utilisateur est créé" in text_of(page)
    user_id = page.url.split("/admin/utilisateurs/")[1].split("?")[0]
    _status, record, _ = await platform.call("GET", f"/api/v1/users/{user_id}", admin)
    assert (record["username"], record["role"], record["phone_extension"]) == (
        username, "readonly", "2105"
    )  # fmt: skip

    page = await web.post(
        "/admin/utilisateurs/nouveau", {**form, "username": username.upper(), "password": PASSWORD}
    )
    assert page.status == 409
    assert "déjà pris" in field_error(page, "username")
    listed = await web.get("/admin/utilisateurs")
    assert username in listed.text
    assert "Lecture seule" in text_of(listed)


async def test_an_administrator_changes_a_role_deactivates_and_reactivates(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    created = await new_user(platform, admin)
    someone = await signed_in(platform, created["username"])
    try:
        page = await web.get(f"/admin/utilisateurs/{created['id']}")
        assert page.status == 200
        assert created["username"] in page.text
        version = re.search(r'name="version" value="(\d+)"', page.text)
        assert version is not None
        form = {"display_name": "Jeanne", "email": "", "role": "readonly",
                "phone_extension": "x!", "version": version[1]}  # fmt: skip
        page = await web.post(f"/admin/utilisateurs/{created['id']}", form)
        assert page.status == 422
        assert field_error(page, "phone_extension")
        assert input_value(page, "phone_extension") == "x!"
        assert re.search(r'<option value="readonly" selected>', page.text)

        page = await web.post(
            f"/admin/utilisateurs/{created['id']}", {**form, "phone_extension": "31"}
        )
        assert "?fait=role" in page.url
        assert "ses sessions ont été fermées" in text_of(page)
        _status, record, _ = await platform.call("GET", f"/api/v1/users/{created['id']}", admin)
        assert (record["role"], record["phone_extension"]) == ("readonly", "31")
        assert "/connexion" in (await someone.get("/moi")).url  # a new role: signed out

        # A write over a change made meanwhile says so.
        page = await web.post(
            f"/admin/utilisateurs/{created['id']}",
            {**form, "display_name": "Z", "phone_extension": "31"},
        )
        assert page.status == 412
        assert "modifié entre-temps par Administrateur" in text_of(page)  # named, not logged

        page = await web.get(f"/admin/utilisateurs/{created['id']}")
        version = re.search(r'name="version" value="(\d+)"', page.text)
        assert version is not None
        page = await web.post(
            f"/admin/utilisateurs/{created['id']}/activation",
            {"active": "non", "version": version[1]},
        )
        assert "?fait=desactive" in page.url
        assert "Désactivé" in page.text
        _status, record, _ = await platform.call("GET", f"/api/v1/users/{created['id']}", admin)
        assert record["active"] is False
        refused = WebUser(platform.gateway)
        assert (await refused.sign_in(created["username"], PASSWORD)).status == 401
        await refused.close()
        listed = await web.get("/admin/utilisateurs")
        assert "(désactivé)" in text_of(listed)

        page = await web.post(
            f"/admin/utilisateurs/{created['id']}/activation",
            {"active": "oui", "version": form_version(page)},
        )
        assert "?fait=reactive" in page.url
        again = await signed_in(platform, created["username"])
        await again.close()
    finally:
        await someone.close()


async def test_an_administrator_cannot_deactivate_or_demote_themself(
    platform: Platform, admin: Headers
) -> None:
    created = await new_user(platform, admin, role="admin")
    me = await signed_in(platform, created["username"])
    try:
        page = await me.get(f"/admin/utilisateurs/{created['id']}")
        assert "vous ne pouvez pas le désactiver" in text_of(page)
        assert f"/admin/utilisateurs/{created['id']}/activation" not in page.text
        version = form_version(page)
        page = await me.post(
            f"/admin/utilisateurs/{created['id']}", {"role": "user", "version": version}
        )
        assert page.status == 409
        assert "propres droits" in text_of(page)
        page = await me.post(
            f"/admin/utilisateurs/{created['id']}/activation", {"active": "non", "version": version}
        )
        assert page.status == 409
        assert "se désactiver" in text_of(page)
        _status, record, _ = await platform.call("GET", f"/api/v1/users/{created['id']}", admin)
        assert (record["role"], record["active"]) == ("admin", True)
    finally:
        await me.close()


async def test_an_administrator_resets_a_password_and_ends_sessions(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    created = await new_user(platform, admin)
    someone = await signed_in(platform, created["username"])
    try:
        path = f"/admin/utilisateurs/{created['id']}"
        page = await web.get(path)
        assert "Sessions ouvertes" in page.text
        assert page.text.count("/sessions/") >= 2
        page = await web.post(
            f"{path}/mot-de-passe", {"new_password": "court", "confirmation": "court"}
        )
        assert page.status == 422
        assert "12 caractères" in field_error(page, "reset-new_password")
        page = await web.post(
            f"{path}/mot-de-passe", {"new_password": NEW_PASSWORD, "confirmation": "x"}
        )
        assert page.status == 422
        assert field_error(page, "reset-confirmation")
        page = await web.post(
            f"{path}/mot-de-passe", {"new_password": NEW_PASSWORD, "confirmation": NEW_PASSWORD}
        )
        assert "?fait=mot-de-passe" in page.url
        assert "/connexion" in (await someone.get("/moi")).url
        await someone.close()
        someone = await signed_in(platform, created["username"], NEW_PASSWORD)

        page = await web.post(f"{path}/sessions/fin", {})
        assert "?fait=sessions" in page.url
        assert "Aucune session ouverte" in text_of(page)
        assert "/connexion" in (await someone.get("/moi")).url
    finally:
        await someone.close()


# -- picklists -----------------------------------------------------------------------------------


async def picklist(platform: Platform, admin: Headers, name: str) -> list[dict[str, object]]:
    status, body, _ = await platform.call("GET", f"/api/v1/picklists/{name}", admin)
    assert status == 200, body
    return list(body["values"])


async def test_picklists_lists_every_declared_list(web: WebUser) -> None:
    page = await web.get("/admin/listes")
    assert page.status == 200
    for name in ("account_type", "industry", "civility", "opportunity_stage", "action_type"):
        assert f'id="liste-{name}"' in page.text, name
    # The lists the accounts service keeps can be changed; the activities' are fixed.
    assert 'action="/admin/listes/industry"' in page.text
    assert 'action="/admin/listes/opportunity_stage"' not in page.text
    assert "Liste fixe" in page.text


async def test_an_administrator_adds_renames_moves_and_deactivates_a_value(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    code = f"v{uuid.uuid4().hex[:6]}"
    await web.get("/admin/listes")
    page = await web.post("/admin/listes/industry", {"code": "", "label": ""})
    assert page.status == 422
    assert field_error(page, "industry-code")
    assert field_error(page, "industry-label")
    page = await web.post("/admin/listes/industry", {"code": "é t", "label": "Aéronautique"})
    assert page.status == 422
    assert field_error(page, "industry-code")
    assert input_value(page, "industry-label") == "Aéronautique"

    page = await web.post("/admin/listes/industry", {"code": code, "label": "Aéronautique"})
    assert "?fait=ajoute" in page.url
    assert f"libelle-industry-{code}" in page.text
    values = await picklist(platform, admin, "industry")
    assert values[-1]["code"] == code
    assert values[-1]["label"] == "Aéronautique"

    page = await web.post("/admin/listes/industry", {"code": code, "label": "Encore"})
    assert page.status == 409
    assert "existe déjà" in field_error(page, "industry-code")

    page = await web.post(f"/admin/listes/industry/{code}", {"label": ""})
    assert page.status == 422
    assert field_error(page, f"libelle-industry-{code}")
    page = await web.post(f"/admin/listes/industry/{code}", {"label": "Aéronautique et spatial"})
    assert "?fait=renomme" in page.url
    values = await picklist(platform, admin, "industry")
    assert values[-1]["label"] == "Aéronautique et spatial"

    # Up one place, then to the top: the order shown is the API's.
    count = len(values)
    page = await web.post(f"/admin/listes/industry/{code}/position", {"position": str(count - 1)})
    assert "?fait=deplace" in page.url
    codes = [v["code"] for v in await picklist(platform, admin, "industry")]
    assert codes.index(code) == count - 2
    await web.post(f"/admin/listes/industry/{code}/position", {"position": "1"})
    values = await picklist(platform, admin, "industry")
    assert values[0]["code"] == code
    assert [v["position"] for v in values] == list(range(1, count + 1))
    page = await web.get("/admin/listes")
    section = page.text.split('id="liste-industry"')[1].split("</section>")[0]
    assert section.index(f"libelle-industry-{code}") < section.index("<tbody>") + 400

    page = await web.post(f"/admin/listes/industry/{code}/activation", {"active": "non"})
    assert "?fait=desactive" in page.url
    assert (await picklist(platform, admin, "industry"))[0]["active"] is False
    page = await web.post(f"/admin/listes/industry/{code}/activation", {"active": "oui"})
    assert (await picklist(platform, admin, "industry"))[0]["active"] is True

    assert (await web.post("/admin/listes/inconnue", {"code": "a", "label": "b"})).status == 404
    page = await web.post(f"/admin/listes/industry/{code}/position", {"position": "haut"})
    assert page.status == 400


# -- Word templates ------------------------------------------------------------------------------


async def upload(web: WebUser, name: str, content: bytes | None, filename: str) -> Page:
    form = aiohttp.FormData()
    form.add_field("csrf", web.csrf)
    form.add_field("name", name)
    form.add_field("kind", "account")
    if content is not None:
        form.add_field(
            "file", io.BytesIO(content), filename=filename, content_type="application/octet-stream"
        )
    return await web.post("/admin/modeles", form)


async def test_templates_upload_list_variables_and_delete(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    page = await web.get("/admin/modeles")
    assert page.status == 200
    shown = text_of(page)
    for variable in ("{{ compte.name }}", "{{ compte.address.city }}", "{{ compte.adresse }}",
                     "{{ c.last_name }}", "{{ vendeur.siren }}", "{{ date }}"):  # fmt: skip
        assert variable in shown, variable
    assert "Raison sociale" in shown

    name = f"Lettre {uuid.uuid4().hex[:6]}"
    page = await upload(web, name, b"pas un document Word", "lettre.docx")
    assert page.status == 422
    assert "n'est pas un document Word" in field_error(page, "file")
    assert input_value(page, "name") == name
    page = await upload(web, name, None, "")
    assert page.status == 422
    assert "Joignez le modèle" in field_error(page, "file")
    page = await upload(web, "", word_template("Bonjour"), "lettre.docx")
    assert page.status == 422
    assert field_error(page, "name")
    page = await upload(web, name, word_template("Bonjour {{ compte.name "), "lettre.docx")
    assert page.status == 422
    assert "syntaxe" in field_error(page, "file")

    content = word_template("Cher {{ compte.name }},", "{{ date }} {{ inconnue }}")
    page = await upload(web, name, content, "lettre.docx")
    assert "?fait=ajoute" in page.url, page.text
    row = page.text.split(f"<td>{name}</td>")[1].split("</tr>")[0]
    assert "lettre.docx" in row
    assert "Compte" in row
    assert "<code>compte</code>" in row
    assert "<code>date</code>" in row
    assert "inconnue : vide à la fusion" in row

    status, listed, _ = await platform.call("GET", "/api/v1/templates", admin)
    template = next(t for t in listed["items"] if t["name"] == name)
    page = await web.get(f"/admin/modeles/{template['id']}/supprimer")
    assert page.status == 200
    assert name in page.text
    page = await web.post(f"/admin/modeles/{template['id']}/supprimer", {})
    assert "?fait=supprime" in page.url
    assert f"<td>{name}</td>" not in page.text
    status, _, _ = await platform.call("GET", f"/api/v1/templates/{template['id']}", admin)
    assert status == 404


async def test_a_template_too_big_is_refused_next_to_the_file(web: WebUser) -> None:
    await web.get("/admin/modeles")
    page = await upload(web, "Trop gros", b"0" * (5 * 1024 * 1024 + 1), "gros.docx")
    assert page.status == 422
    assert "trop volumineux" in field_error(page, "file")
    assert input_value(page, "name") == "Trop gros"


async def test_unknown_addresses_in_the_administration_say_so_in_french(web: WebUser) -> None:
    for path in (
        f"/admin/utilisateurs/{uuid.uuid4()}",
        f"/admin/modeles/{uuid.uuid4()}/supprimer",
        "/admin/utilisateurs/pas-un-identifiant",
    ):
        page = await web.get(path)
        assert page.status in (404, 422), path
        assert "<h1>" in page.text
        assert "Traceback" not in page.text
    page = await web.post(f"/admin/utilisateurs/{uuid.uuid4()}/sessions/{uuid.uuid4()}/fin", {})
    assert page.status == 404
