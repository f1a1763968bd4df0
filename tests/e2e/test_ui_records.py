"""The record page and form of every entity over HTTP (WebUser): built from the declarations,
refused input shown next to its field and kept, French numbers and dates, links of e-mail/URL/
phone fields, connections chosen with or without JavaScript, saving over someone else's change,
and a read-only user. tests/browser/test_records.py does the same in chromium."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.platform import Platform
from tests.ui_support import WebUser, input_value

PASSWORD = "Un-mot-de-passe-solide-1"
Headers = dict[str, str]


@pytest.fixture
async def web(platform: Platform) -> AsyncIterator[WebUser]:
    user = WebUser(platform.gateway)
    signed = await user.sign_in()
    assert signed.status == 200, signed.text[:500]
    yield user
    await user.close()


async def new_user(platform: Platform, admin: Headers, role: str) -> str:
    username = f"fiche-{uuid.uuid4().hex[:10]}"
    body = {"username": username, "password": PASSWORD, "role": role}
    status, created, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
    assert status == 201, created
    return username


async def made(platform: Platform, headers: Headers, path: str, body: Any) -> dict[str, Any]:
    status, created, _ = await platform.call("POST", path, headers, json=body)
    assert status == 201, created
    return created  # type: ignore[no-any-return]


def field_block(text: str, name: str) -> str:
    """The HTML of one field of the form (its wrapper ``fld-<name>`` up to the next field)."""
    start = text.index(f'id="fld-{name}"')
    following = text.find('id="fld-', start + 10)
    return text[start : following if following > 0 else len(text)]


class FormReader(HTMLParser):
    """What the record form would post as it is shown (inputs, selects, textareas)."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self.inside = False
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == "record-form":
            self.inside = True
        if not self.inside or "name" not in a:
            if tag == "option" and self.select and "selected" in a:
                self.data[self.select] = a.get("value", "")
            return
        name = a["name"]
        kind = a.get("type", "text")
        if tag == "input" and kind in ("search", "submit"):
            return
        if tag == "input" and (kind not in ("checkbox", "radio") or "checked" in a):
            self.data[name] = a.get("value", "")
        elif tag == "select":
            self.select = name
            self.data.setdefault(name, "")
        elif tag == "textarea":
            self.textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        if tag == "select":
            self.select = None
        if tag == "textarea":
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.data[self.textarea] += data


def form_of(text: str) -> dict[str, str]:
    reader = FormReader()
    reader.feed(text)
    reader.data.pop("csrf", None)
    return reader.data


def every_kind_form(web: WebUser, name: str) -> dict[str, str]:
    return {
        "name": name,
        "account_type": "",
        "phone": "01 42 68 53 00",
        "email": "contact@exemple-fiche.fr",
        "website": "https://www.exemple-fiche.fr/accueil",
        "address.street": "12 rue de la Paix",
        "address.postal_code": "75002",
        "address.city": "Paris",
        "address.country": "fr",
        "siren": "",
        "owner": "admin",
        "employees": "1 500",
        "annual_revenue": "1 234 567,50 €",
        "description": "Première ligne\r\nSeconde ligne",
        "parent_account_id": "",
    }


async def test_create_without_raison_sociale_is_refused_next_to_the_field_input_kept(
    web: WebUser,
) -> None:
    form = await web.get("/crm/accounts/nouveau")
    assert form.status == 200
    name = field_block(form.text, "name")
    assert '<span class="required" aria-hidden="true">*</span>' in name
    assert "required" in name
    assert 'aria-required="true"' in name
    assert 'maxlength="255"' in name

    data = every_kind_form(web, "")
    page = await web.post("/crm/accounts/nouveau", data)
    assert page.status == 422, page.text[:300]
    name = field_block(page.text, "name")
    assert 'class="field-error" id="e-name"' in name
    assert "obligatoire" in name
    assert 'aria-invalid="true"' in name
    assert "e-name" in name
    summary = page.text[page.text.index('id="error-summary"') :]
    assert '<a href="#f-name">Raison sociale : ' in summary
    # Everything else is kept as typed.
    assert input_value(page.text, "f-email") == "contact@exemple-fiche.fr"
    assert input_value(page.text, "f-annual_revenue") == "1 234 567,50 €"
    assert input_value(page.text, "f-address-city") == "Paris"
    assert input_value(page.text, "f-description") == "Première ligne\nSeconde ligne"


async def test_bad_values_are_each_shown_next_to_their_field(web: WebUser) -> None:
    await web.get("/crm/accounts/nouveau")
    data = {
        "name": "Valeurs fausses",
        "email": "deux@a.fr, trois@b.fr",
        "website": "ftp://exemple.fr",
        "employees": "beaucoup",
        "annual_revenue": "12,5,3",
        "address.country": "France",
    }
    page = await web.post("/crm/accounts/nouveau", data)
    assert page.status == 422
    assert "Une seule adresse" in field_block(page.text, "email")
    assert 'id="e-website"' in field_block(page.text, "website")
    assert "nombre entier (ex. 1 500)" in field_block(page.text, "employees")
    assert "montant en euros" in field_block(page.text, "annual_revenue")
    assert 'id="e-address-country"' in field_block(page.text, "address")
    assert input_value(page.text, "f-employees") == "beaucoup"
    # Nothing was created.
    listed = await web.get("/api/v1/accounts?q=Valeurs")
    assert "Valeurs fausses" not in listed.text


async def test_create_with_every_kind_of_field_shows_the_right_links(
    web: WebUser, platform: Platform, admin: Headers
) -> None:
    parent = await made(platform, admin, "/api/v1/accounts", {"name": "Maison mère Fiche"})
    await web.get("/crm/accounts/nouveau")
    data = every_kind_form(web, "Filiale Fiche")
    data["parent_account_id"] = parent["id"]
    created = await web.post("/crm/accounts/nouveau", data)
    assert created.status == 200, created.text[:800]
    assert re.search(r"/crm/accounts/[0-9a-f-]{36}\?enregistree=1$", created.url), created.url
    text = created.text
    assert "Fiche enregistrée." in text
    assert 'href="mailto:contact@exemple-fiche.fr"' in text
    web_link = re.search(r'<a [^>]*class="button field-action web-link"[^>]*>', text)
    assert web_link
    assert 'href="https://www.exemple-fiche.fr/accueil"' in web_link.group(0)
    assert 'target="_blank"' in web_link.group(0)
    assert 'rel="noopener noreferrer"' in web_link.group(0)
    assert 'href="tel:+33142685300"' in text
    assert 'formaction="/crm/accounts/' in text
    assert "ClickToCall" in text
    # French formats in the inputs, the address in its fieldset, the parent as a link.
    assert input_value(text, "f-employees") == "1\u202f500"
    assert input_value(text, "f-annual_revenue") == "1\u202f234\u202f567,50"
    assert input_value(text, "f-phone") == "01 42 68 53 00"
    assert input_value(text, "f-address-country") == "FR"
    parent_block = field_block(text, "parent_account_id")
    assert f'<a href="/crm/accounts/{parent["id"]}">Maison mère Fiche</a>' in parent_block
    # The Système tab.
    system = text[text.index('id="onglet-systeme"') :]
    assert "Système" in system
    assert "Version" in system
    assert "par <strong>Administrateur</strong>" in system  # the display name, not "admin"
    record_id = created.url.split("/")[-1].split("?")[0]
    assert record_id in system
    status, stored, _ = await platform.call("GET", f"/api/v1/accounts/{record_id}", admin)
    assert status == 200
    assert stored["employees"] == 1500
    assert stored["annual_revenue"] == "1234567.50"
    assert stored["phone"] == "+33142685300"
    assert stored["description"] == "Première ligne\nSeconde ligne"
    assert stored["parent_account_id"] == parent["id"]


async def test_prefilled_new_contact_and_dates_in_paris_time(
    web: WebUser, platform: Platform, admin: Headers
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Compte du contact"})
    form = await web.get(f"/crm/contacts/nouveau?account_id={account['id']}")
    assert form.status == 200
    block = field_block(form.text, "account_id")
    assert f'value="{account["id"]}"' in block
    assert "Compte du contact" in block
    await web.get(f"/crm/actions/nouveau?account_id={account['id']}")
    page = await web.post(
        "/crm/actions/nouveau",
        {
            "type": "meeting",
            "subject": "Rendez-vous",
            "account_id": account["id"],
            "occurred_at": "2026-07-14T09:30",
            "duration_seconds": "3 600",
        },
    )
    assert page.status == 200, page.text[:800]
    action_id = page.url.split("/")[-1].split("?")[0]
    status, stored, _ = await platform.call("GET", f"/api/v1/actions/{action_id}", admin)
    assert status == 200
    assert stored["occurred_at"].startswith("2026-07-14T07:30")  # summer time: UTC+2
    assert input_value(page.text, "f-occurred_at") == "2026-07-14T09:30"


async def test_connection_chosen_without_javascript(
    web: WebUser, platform: Platform, admin: Headers
) -> None:
    tag = uuid.uuid4().hex[:6]
    target = await made(platform, admin, "/api/v1/accounts", {"name": f"Cible {tag}"})
    await web.get("/crm/accounts/nouveau")
    searched = await web.post(
        "/crm/accounts/nouveau",
        {
            "name": f"Sans JS {tag}",
            "_chercher": "parent_account_id",
            "_q_parent_account_id": f"Cible {tag}",
        },
    )
    assert searched.status == 200
    assert input_value(searched.text, "f-name") == f"Sans JS {tag}"
    block = field_block(searched.text, "parent_account_id")
    assert (
        f'type="radio" id="f-parent_account_id-1" name="parent_account_id" value="{target["id"]}"'
        in block
    )
    created = await web.post(
        "/crm/accounts/nouveau", {"name": f"Sans JS {tag}", "parent_account_id": target["id"]}
    )
    assert f'<a href="/crm/accounts/{target["id"]}">Cible {tag}</a>' in created.text

    fragment = await web.get(
        f"/crm/accounts/choisir?q=Cible+{tag}&champ=parent_account_id",
        headers={"HX-Request": "true"},
    )
    assert fragment.status == 200
    assert "<html" not in fragment.text
    assert f'data-id="{target["id"]}"' in fragment.text
    full = await web.get(f"/crm/accounts/choisir?q=Cible+{tag}")
    assert "<html" in full.text
    assert f'href="/crm/accounts/{target["id"]}"' in full.text


async def test_saving_over_someone_elses_change_names_them_and_keeps_the_input(
    web: WebUser, platform: Platform, admin: Headers
) -> None:
    other = await new_user(platform, admin, "user")
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Conflit"})
    opened = await web.get(f"/crm/accounts/{account['id']}")
    assert opened.status == 200
    assert input_value(opened.text, "f-name") == "Conflit"
    theirs = await platform.login(other, PASSWORD)
    status, _, _ = await platform.call(
        "PATCH",
        f"/api/v1/accounts/{account['id']}",
        theirs,
        json={"description": "Changé par l'autre"},
    )
    assert status == 200
    version = re.search(r'name="_version" value="(\d+)"', opened.text)
    assert version
    data = every_kind_form(web, "Conflit, mon nom")
    data["_version"] = version.group(1)
    page = await web.post(f"/crm/accounts/{account['id']}", data)
    assert page.status == 412, page.text[:500]
    conflict = page.text[page.text.index('id="conflict"') :]
    assert other in conflict[:800]
    assert "Recharger la fiche" in conflict[:1500]
    assert input_value(page.text, "f-name") == "Conflit, mon nom"
    status, stored, _ = await platform.call("GET", f"/api/v1/accounts/{account['id']}", admin)
    assert stored["name"] == "Conflit"
    assert stored["description"] == "Changé par l'autre"


VERSION_UNREADABLE = (
    "La version de la fiche manque ou est illisible : rechargez la fiche avant d'enregistrer."
)


@pytest.mark.parametrize("posted", ["", "abc", "-1", "1.0", " ", "²", None])
async def test_a_save_without_a_readable_version_is_refused_and_writes_nothing(
    web: WebUser, platform: Platform, admin: Headers, posted: str | None
) -> None:
    """Without a version the save cannot be conditional: refused, not sent without If-Match
    (which would write over whatever someone saved meanwhile)."""
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Sans version"})
    status, _, _ = await platform.call(
        "PATCH",
        f"/api/v1/accounts/{account['id']}",
        admin,
        json={"description": "Changé par un autre"},
    )
    assert status == 200
    data = every_kind_form(web, "Sans version, mon nom")
    if posted is not None:
        data["_version"] = posted
    page = await web.post(f"/crm/accounts/{account['id']}", data)
    assert page.status == 428, page.text[:500]
    assert VERSION_UNREADABLE in html.unescape(page.text)
    assert "error-summary" in page.text
    assert input_value(page.text, "f-name") == "Sans version, mon nom"
    status, stored, _ = await platform.call("GET", f"/api/v1/accounts/{account['id']}", admin)
    assert stored["name"] == "Sans version"
    assert stored["description"] == "Changé par un autre"
    assert stored["version"] == account["version"] + 1


async def test_readonly_user_sees_the_record_without_save(
    platform: Platform, admin: Headers
) -> None:
    username = await new_user(platform, admin, "readonly")
    account = await made(
        platform, admin, "/api/v1/accounts", {"name": "Lecture", "email": "l@x.fr"}
    )
    reader = WebUser(platform.gateway)
    try:
        await reader.sign_in(username, PASSWORD)
        page = await reader.get(f"/crm/accounts/{account['id']}")
        assert page.status == 200
        assert "Enregistrer</button>" not in page.text
        assert '<fieldset class="record-fields" disabled>' in page.text
        assert "Lecture seule" in page.text
        assert 'href="mailto:l@x.fr"' in page.text
        refused = await reader.post(f"/crm/accounts/{account['id']}", {"name": "Non"})
        assert refused.status == 403
    finally:
        await reader.close()


async def test_every_crm_entity_has_its_form_and_unknown_ones_are_404(web: WebUser) -> None:
    for collection in (
        "accounts",
        "contacts",
        "actions",
        "opportunities",
        "projects",
        "quotes",
        "invoices",
    ):
        page = await web.get(f"/crm/{collection}/nouveau")
        assert page.status == 200, (collection, page.text[:300])
        assert 'id="record-form"' in page.text
    headings = {
        "actions": "Nouvelle action",
        "opportunities": "Nouvelle affaire",
        "invoices": "Nouvelle facture",
        "quotes": "Nouveau devis",
    }
    for collection, heading in headings.items():
        page = await web.get(f"/crm/{collection}/nouveau")
        assert f"<h1>{heading}</h1>" in page.text
    assert (await web.get("/crm/inconnus/nouveau")).status == 404
    assert (await web.get("/crm/accounts/pas-un-uuid")).status == 404
    assert (await web.get(f"/crm/accounts/{uuid.uuid4()}")).status == 404


async def test_trash_asks_then_moves_the_record(
    web: WebUser, platform: Platform, admin: Headers
) -> None:
    contact = await made(platform, admin, "/api/v1/contacts", {"last_name": "Àjeter"})
    asked = await web.get(f"/crm/contacts/{contact['id']}/corbeille")
    assert asked.status == 200
    assert "Àjeter" in asked.text
    done = await web.post(f"/crm/contacts/{contact['id']}/corbeille", {})
    assert done.url.endswith("/crm/contacts?corbeille=1")
    status, _, _ = await platform.call("GET", f"/api/v1/contacts/{contact['id']}", admin)
    assert status == 404


async def test_a_deactivated_picklist_value_still_shows_on_the_record_that_holds_it(
    web: WebUser, platform: Platform, admin: Headers
) -> None:
    code = f"ancien-{uuid.uuid4().hex[:6]}"
    body = {"code": code, "label": "Ancien secteur", "position": 9000}
    await made(platform, admin, "/api/v1/picklists/industry", body)
    account = await made(
        platform, admin, "/api/v1/accounts", {"name": "Secteur ancien", "industry": code}
    )
    status, _, _ = await platform.call(
        "PATCH", f"/api/v1/picklists/industry/{code}", admin, json={"active": False}
    )
    assert status == 200
    page = await web.get(f"/crm/accounts/{account['id']}")
    industry = field_block(page.text, "industry")
    assert f'<option value="{code}" selected>Ancien secteur (désactivée)</option>' in industry
    fresh = await web.get("/crm/accounts/nouveau")
    assert code not in field_block(fresh.text, "industry")
    # Saved again unchanged, the record keeps it.
    version = re.search(r'name="_version" value="(\d+)"', page.text)
    assert version
    saved = await web.post(f"/crm/accounts/{account['id']}", form_of(page.text))
    assert saved.status == 200, saved.text[:500]
    assert "Aucune modification à enregistrer" in saved.text
    status, stored, _ = await platform.call("GET", f"/api/v1/accounts/{account['id']}", admin)
    assert stored["industry"] == code
    assert stored["version"] == account["version"]


async def test_a_user_who_may_not_list_users_chooses_the_owner_among_them(
    platform: Platform, admin: Headers
) -> None:
    username = await new_user(platform, admin, "user")
    seller = WebUser(platform.gateway)
    try:
        await seller.sign_in(username, PASSWORD)
        page = await seller.get("/crm/accounts/nouveau")
        owner = field_block(page.text, "owner")
        assert '<select id="f-owner" name="owner"' in owner
        assert '<option value="admin">Administrateur</option>' in owner
        created = await seller.post("/crm/accounts/nouveau", {"name": "À moi"})
        assert created.status == 200, created.text[:500]
        chosen = field_block(created.text, "owner")
        assert f'<option value="{username}" selected>{username}</option>' in chosen
    finally:
        await seller.close()


async def test_quote_form_has_its_lines_and_read_only_fields_as_text(
    web: WebUser, platform: Platform, admin: Headers
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Client du devis"})
    form = await web.get(f"/crm/quotes/nouveau?account_id={account['id']}")
    assert form.status == 200
    assert 'id="lines"' in form.text
    assert 'id="fld-total_net"' not in form.text  # shown by the lines editor
    assert 'id="fld-status"' not in form.text  # written by the system: nothing to show yet
    quote = await made(platform, admin, "/api/v1/quotes", {"account_id": account["id"]})
    page = await web.get(f"/crm/quotes/{quote['id']}")
    status_block = field_block(page.text, "status")
    assert "Brouillon" in status_block
    assert '<input type="text" id="f-status"' not in page.text
    account_block = field_block(page.text, "account_id")
    assert f'<a href="/crm/accounts/{account["id"]}">Client du devis</a>' in account_block


async def test_a_sent_quote_is_shown_without_save_and_its_lines_are_kept(
    web: WebUser, platform: Platform, admin: Headers
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Devis envoyé"})
    line = {"description": "Audit", "quantity": "1", "unit_price": "500.00", "vat_rate": "20"}
    quote = await made(
        platform, admin, "/api/v1/quotes", {"account_id": account["id"], "lines": [line]}
    )
    status, _, _ = await platform.call("POST", f"/api/v1/quotes/{quote['id']}/send", admin)
    assert status == 200
    page = await web.get(f"/crm/quotes/{quote['id']}")
    assert 'name="lines-0-description"' not in page.text  # a sent quote's lines are text
    assert "Enregistrer</button>" not in page.text
    assert "ne se modifie plus" in page.text
    assert '<fieldset class="record-fields" disabled>' in page.text
    version = re.search(r'name="_version" value="(\d+)"', page.text)
    assert version
    # Posted anyway (an old page): refused, said at the top, the lines untouched.
    saved = await web.post(
        f"/crm/quotes/{quote['id']}",
        {"account_id": account["id"], "notes": "Relancer lundi", "_version": version.group(1)},
    )
    assert saved.status == 409
    assert "ne se modifie plus" in saved.text
    status, stored, _ = await platform.call("GET", f"/api/v1/quotes/{quote['id']}", admin)
    assert status == 200
    assert [item["description"] for item in stored["lines"]] == ["Audit"]


async def test_saving_sends_only_what_changed(
    web: WebUser, platform: Platform, admin: Headers
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Secondes"})
    action = await made(
        platform,
        admin,
        "/api/v1/actions",
        {
            "type": "call",
            "subject": "Appel",
            "account_id": account["id"],
            "occurred_at": "2026-07-14T07:30:27.250Z",
        },
    )
    page = await web.get(f"/crm/actions/{action['id']}")
    assert input_value(page.text, "f-occurred_at") == "2026-07-14T09:30"
    version = re.search(r'name="_version" value="(\d+)"', page.text)
    assert version
    form = form_of(page.text)
    assert form["occurred_at"] == "2026-07-14T09:30"
    assert form["_version"] == version.group(1)
    form["subject"] = "Appel rappelé"
    saved = await web.post(f"/crm/actions/{action['id']}", form)
    assert "Fiche enregistrée." in saved.text, saved.text[:600]
    _, stored, _ = await platform.call("GET", f"/api/v1/actions/{action['id']}", admin)
    assert stored["subject"] == "Appel rappelé"
    assert stored["occurred_at"] == action["occurred_at"]  # the seconds are kept


def radio_labels(block: str) -> list[str]:
    """The labels of the no-JavaScript picker's candidates (without "Garder" and "Aucun")."""
    found = re.findall(
        r'<input type="radio" id="([^"]+)"[^>]*>\s*<label for="\1">(.*?)</label>', block
    )
    texts = [" ".join(re.sub(r"<[^>]+>", " ", html.unescape(t)).split()) for _, t in found]
    return [t for t in texts if t != "Aucun" and not t.startswith("Garder")]


async def test_a_picker_searches_within_the_forms_account_unless_told_otherwise(
    web: WebUser, platform: Platform, admin: Headers
) -> None:
    tag = uuid.uuid4().hex[:6]
    mine = await made(platform, admin, "/api/v1/accounts", {"name": f"Boulangerie {tag}"})
    other = await made(platform, admin, "/api/v1/accounts", {"name": f"Garage {tag}"})
    for account in (mine, other):
        await made(
            platform,
            admin,
            "/api/v1/contacts",
            {"last_name": f"Martin{tag}", "account_id": account["id"]},
        )
        await made(
            platform,
            admin,
            "/api/v1/opportunities",
            {"name": f"Affaire {tag} {account['name']}", "account_id": account["id"]},
        )

    # An action from the account's tab: the contact picker knows the account.
    form = await web.get(f"/crm/actions/nouveau?account_id={mine['id']}")
    opener = re.search(
        r'<button type="button" class="picker-open"[^>]*data-field="contact_id"[^>]*>', form.text
    )
    assert opener, field_block(form.text, "contact_id")
    assert 'data-scoped="true"' in opener.group(0)
    assert f'data-account="{mine["id"]}"' in opener.group(0)
    assert 'name="_tous_contact_id"' in field_block(form.text, "contact_id")

    # The dialog's search: within the account, then every account with its name.
    base = f"/crm/contacts/choisir?q=Martin{tag}&champ=contact_id&compte={mine['id']}"
    narrow = await web.get(base, headers={"HX-Request": "true"})
    assert narrow.text.count('class="picker-choice"') == 1, narrow.text
    assert f"Boulangerie {tag}" in narrow.text  # the count says which account
    assert f"Garage {tag}" not in narrow.text
    wide = await web.get(base + "&tous=1", headers={"HX-Request": "true"})
    assert wide.text.count('class="picker-choice"') == 2, wide.text
    assert f'Martin{tag} <span class="hint">Garage {tag}</span>' in wide.text
    assert f'Martin{tag} <span class="hint">Boulangerie {tag}</span>' in wide.text
    page = await web.get(base)  # the picker as a page, without JavaScript
    assert page.text.count(f"Martin{tag}</a>") == 1
    assert 'name="tous"' in page.text

    # Without JavaScript, the form's "Chercher": the same, and "Tous les comptes" widens it.
    fields = {"type": "call", "subject": f"Appel {tag}", "account_id": mine["id"]}
    search = {"_chercher": "contact_id", "_q_contact_id": f"Martin{tag}"}
    searched = await web.post("/crm/actions/nouveau", {**fields, **search})
    assert searched.status == 200
    assert radio_labels(field_block(searched.text, "contact_id")) == [f"Martin{tag}"]
    searched = await web.post("/crm/actions/nouveau", {**fields, **search, "_tous_contact_id": "1"})
    labels = radio_labels(field_block(searched.text, "contact_id"))
    assert sorted(labels) == sorted(
        [f"Martin{tag} (Boulangerie {tag})", f"Martin{tag} (Garage {tag})"]
    ), labels

    # A saved quote: its "Affaire" offers only its account's opportunities.
    quote = await made(platform, admin, "/api/v1/quotes", {"account_id": mine["id"]})
    page = await web.get(f"/crm/quotes/{quote['id']}")
    version = input_value(page.text, "f-_version") if 'id="f-_version"' in page.text else ""
    searched = await web.post(
        f"/crm/quotes/{quote['id']}",
        {
            "_version": version or str(quote.get("version", "")),
            "_chercher": "opportunity_id",
            "_q_opportunity_id": f"Affaire {tag}",
        },
    )
    assert searched.status == 200, searched.text[:500]
    labels = radio_labels(field_block(searched.text, "opportunity_id"))
    assert len(labels) == 1, labels
    assert f"Boulangerie {tag}" in labels[0], labels


async def test_a_web_address_without_its_scheme_is_sent_with_https(
    web: WebUser, platform: Platform, admin: Headers
) -> None:
    tag = uuid.uuid4().hex[:6]
    await web.get("/crm/accounts/nouveau")
    created = await web.post(
        "/crm/accounts/nouveau",
        {"name": f"Boulangerie Dupont {tag}", "website": " www.boulangerie-dupont.fr "},
    )
    assert created.status == 200, created.text[:500]
    assert input_value(created.text, "f-website") == "https://www.boulangerie-dupont.fr"
    status, found, _ = await platform.call(
        "GET", "/api/v1/accounts", admin, params={"q": f"Boulangerie Dupont {tag}"}
    )
    assert status == 200
    assert [a["website"] for a in found["items"]] == ["https://www.boulangerie-dupont.fr"]
    # Not a host name: sent as typed, and the API refuses it next to the field.
    await web.get("/crm/accounts/nouveau")
    refused = await web.post(
        "/crm/accounts/nouveau", {"name": f"Sans site {tag}", "website": "mon site"}
    )
    assert refused.status == 422, refused.text[:500]
    assert input_value(refused.text, "f-website") == "mon site"
    assert 'id="e-website"' in refused.text


async def test_an_empty_system_link_is_not_shown(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    """An ordinary invoice cancels nothing: no empty "Facture annulée" on its page."""
    account = await made(platform, admin, "/api/v1/accounts", {"name": f"Lien {uuid.uuid4()}"})
    invoice = await made(platform, admin, "/api/v1/invoices", {"account_id": account["id"]})
    page = await web.get(f"/crm/invoices/{invoice['id']}")
    assert page.status == 200
    assert "Facture annulée" not in page.text
    assert "Compte" in page.text  # the links it has are shown


async def test_a_date_no_one_may_change_reads_in_french(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    """An issued invoice's due date is text ("29/12/2026"), not a disabled date input that
    shows the browser's own format."""
    account = await made(platform, admin, "/api/v1/accounts", {"name": f"Échue {uuid.uuid4()}"})
    body = {
        "account_id": account["id"],
        "due_date": "2026-12-29",
        "lines": [{"description": "Audit", "quantity": "1", "unit_price": "10", "vat_rate": "20"}],
    }
    invoice = await made(platform, admin, "/api/v1/invoices", body)
    status, _, _ = await platform.call("POST", f"/api/v1/invoices/{invoice['id']}/issue", admin)
    assert status == 200
    page = await web.get(f"/crm/invoices/{invoice['id']}")
    assert page.status == 200
    assert "29/12/2026" in field_block(page.text, "due_date")
    assert 'type="date"' not in field_block(page.text, "due_date")
    draft = await made(platform, admin, "/api/v1/invoices", {"account_id": account["id"]})
    page = await web.get(f"/crm/invoices/{draft['id']}")
    assert 'type="date"' in field_block(page.text, "due_date")  # a draft's is still an input
