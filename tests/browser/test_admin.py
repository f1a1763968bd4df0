"""Administration and the user's menu in chromium: users, picklists, Word templates, my profile
and password, as a person uses them (labels, buttons, messages next to fields), each screen
checked with axe-core and saved as a screenshot."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import Page, expect

from tests.browser.conftest import AssertAccessible, Shot, SignedIn
from tests.platform import Platform
from tests.support import word_template

PASSWORD = "Un-mot-de-passe-solide-1"
Headers = dict[str, str]


async def new_user(platform: Platform, admin: Headers, role: str = "user") -> dict[str, str]:
    username = f"nav-{role}-{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": PASSWORD, "role": role, "display_name": "Lucie"}
    status, created, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
    assert status == 201, created
    return dict(created)


async def test_an_administrator_creates_a_user_changes_the_role_and_deactivates(
    page: Page, platform: Platform, admin: Headers, shot: Shot, assert_accessible: AssertAccessible
) -> None:
    await page.goto("/")
    await page.get_by_text("Administration", exact=True).click()
    await page.get_by_role("link", name="Utilisateurs").click()
    await expect(page).to_have_url(re.compile(r"/admin/utilisateurs$"))
    await expect(page.get_by_role("heading", name="Utilisateurs", level=1)).to_be_visible()
    await assert_accessible(page, "admin-utilisateurs")

    await page.get_by_role("link", name="+ Nouvel utilisateur").click()
    await assert_accessible(page, "admin-utilisateur-nouveau")
    username = f"nav-{uuid.uuid4().hex[:8]}"
    await page.get_by_label("Identifiant de connexion").fill(username)
    await page.get_by_label("Nom affiché").fill("Paul Durand")
    await page.get_by_label("Rôle").select_option(label="Lecture seule")
    await page.get_by_role("textbox", name="Poste téléphonique").fill("2107")
    await page.get_by_label("Mot de passe initial").fill("court")
    await page.get_by_role("button", name="Créer l'utilisateur").click()

    # The API's password rule, next to the field; the rest kept.
    error = page.locator("#password-erreur")
    await expect(error).to_contain_text("12 caractères")
    await expect(page.get_by_label("Nom affiché")).to_have_value("Paul Durand")
    await expect(page.get_by_label("Rôle")).to_have_value("readonly")
    await expect(page.locator("#erreurs")).to_be_focused()
    await assert_accessible(page, "admin-utilisateur-nouveau-erreurs")

    await page.get_by_label("Mot de passe initial").fill(PASSWORD)
    await page.get_by_role("button", name="Créer l'utilisateur").click()
    await expect(page.get_by_role("status")).to_contain_text("L'utilisateur est créé")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Paul Durand")
    await assert_accessible(page, "admin-utilisateur-fiche")

    await page.get_by_label("Rôle").select_option(label="Utilisateur")
    await page.get_by_role("button", name="Enregistrer").click()
    await expect(page.get_by_role("status")).to_contain_text("Le rôle est changé")
    await expect(page.get_by_label("Rôle")).to_have_value("user")

    await page.get_by_role("button", name="Désactiver l'utilisateur").click()
    await expect(page.get_by_role("status")).to_contain_text("L'utilisateur est désactivé")
    await expect(page.locator(".status.off")).to_have_text("Désactivé")
    await shot(page, "admin-utilisateur-desactive")
    user_id = page.url.split("/admin/utilisateurs/")[1].split("?")[0]
    _status, record, _ = await platform.call("GET", f"/api/v1/users/{user_id}", admin)
    assert (record["role"], record["active"], record["phone_extension"]) == ("user", False, "2107")

    await page.get_by_role("link", name="Utilisateurs").first.click()
    row = page.get_by_role("row").filter(has_text=username)
    await expect(row).to_contain_text("Non (désactivé)")


async def test_a_picklist_value_added_is_offered_in_the_account_form(
    page: Page, platform: Platform, admin: Headers, shot: Shot, assert_accessible: AssertAccessible
) -> None:
    await page.goto("/admin/listes")
    await assert_accessible(page, "admin-listes")
    section = page.locator("#liste-industry")
    code = f"b{uuid.uuid4().hex[:6]}"
    label = f"Biotechnologies {code}"
    await section.locator("#industry-code").fill(code)
    await section.get_by_role("button", name="Ajouter").click()
    await expect(section.locator("#industry-label-erreur")).to_contain_text("libellé")
    await expect(section.locator("#industry-code")).to_have_value(code)
    await section.locator("#industry-label").fill(label)
    await section.get_by_role("button", name="Ajouter").click()
    await expect(page.get_by_role("status")).to_contain_text("La valeur est ajoutée")
    last = section.locator("tbody tr").last
    await expect(last.get_by_role("textbox")).to_have_value(label)

    # Up one place, with the arrow button (a form: it works without JavaScript too).
    rows_before = await section.locator("tbody tr").count()
    await last.get_by_role("button", name=f"Monter {label}").click()
    await expect(page.get_by_role("status")).to_contain_text("L'ordre est enregistré")
    moved = section.locator("tbody tr").nth(rows_before - 2)
    await expect(moved.get_by_role("textbox")).to_have_value(label)
    await shot(page, "admin-listes-ajout")

    # The account form offers it (its select is built from the same picklist).
    await page.goto("/crm/accounts/nouveau")
    select = page.get_by_label("Secteur d'activité")
    await expect(select.locator(f'option[value="{code}"]')).to_have_text(label)

    # Deactivated: no longer offered to a new record.
    await page.goto("/admin/listes")
    await section.get_by_role("button", name=f"Désactiver {label}").click()
    await expect(page.get_by_role("status")).to_contain_text("La valeur est désactivée")
    await page.goto("/crm/accounts/nouveau")
    await expect(
        page.get_by_label("Secteur d'activité").locator(f'option[value="{code}"]')
    ).to_have_count(0)


async def test_a_word_template_is_uploaded_shows_its_variables_and_is_deleted(
    page: Page, shot: Shot, assert_accessible: AssertAccessible
) -> None:
    await page.goto("/admin/modeles")
    await assert_accessible(page, "admin-modeles")
    await expect(page.locator("code.variable", has_text="{{ compte.name }}")).to_be_visible()
    await expect(page.get_by_role("button", name="Copier compte.name")).to_be_visible()

    name = f"Relance {uuid.uuid4().hex[:6]}"
    await page.get_by_label("Nom du modèle").fill(name)
    # Not a .docx: said before sending.
    await page.get_by_label("Fichier Word (.docx)").set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"bonjour"}
    )
    await page.get_by_role("button", name="Envoyer le modèle").click()
    await expect(page.locator("#file-erreur")).to_contain_text(".docx")
    # A .docx that is not one: the API's check, next to the field.
    await page.get_by_label("Fichier Word (.docx)").set_input_files(
        {"name": "faux.docx", "mimeType": "application/octet-stream", "buffer": b"pas un zip"}
    )
    await page.get_by_role("button", name="Envoyer le modèle").click()
    await expect(page.locator("#file-erreur")).to_contain_text("n'est pas un document Word")
    await expect(page.get_by_label("Nom du modèle")).to_have_value(name)
    await assert_accessible(page, "admin-modeles-erreur")

    content = word_template(
        "Madame, Monsieur,", "{{ compte.name }} — {{ vendeur.name }}, {{ date }}"
    )
    await page.get_by_label("Fichier Word (.docx)").set_input_files(
        {"name": "relance.docx", "mimeType": "application/octet-stream", "buffer": content}
    )
    await page.get_by_role("button", name="Envoyer le modèle").click()
    await expect(page.get_by_role("status")).to_contain_text("Le modèle est enregistré")
    row = page.get_by_role("row").filter(has_text=name)
    await expect(row).to_contain_text("relance.docx")
    for variable in ("compte", "vendeur", "date"):
        await expect(row.locator("code", has_text=re.compile(f"^{variable}$"))).to_be_visible()
    await shot(page, "admin-modeles-ajout")

    await row.get_by_role("link", name=f"Supprimer le modèle {name}").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    await assert_accessible(page, "admin-modele-supprimer")
    await page.get_by_role("button", name="Supprimer le modèle").click()
    await expect(page.get_by_role("status")).to_contain_text("Le modèle est supprimé")
    await expect(page.get_by_role("row").filter(has_text=name)).to_have_count(0)


async def test_an_administrator_changes_their_extension_from_the_user_menu(
    platform: Platform, admin: Headers, signed_in: SignedIn, assert_accessible: AssertAccessible
) -> None:
    created = await new_user(platform, admin, role="admin")
    page = await signed_in(created["username"], PASSWORD)
    await page.goto("/")
    await page.locator(".user-menu summary").click()
    await page.get_by_role("link", name="Mon profil et mon poste").click()
    await expect(page.get_by_role("heading", name="Mon profil", level=1)).to_be_visible()
    await expect(page.get_by_text("cette session")).to_be_visible()
    await page.get_by_role("textbox", name="Poste téléphonique").fill("12 b")
    await page.get_by_role("button", name="Enregistrer").click()
    await expect(page.locator("#phone_extension-erreur")).to_be_visible()
    await expect(page.get_by_role("textbox", name="Poste téléphonique")).to_have_value("12 b")
    await page.get_by_role("textbox", name="Poste téléphonique").fill("2108")
    await page.get_by_role("button", name="Enregistrer").click()
    await expect(page.get_by_role("status")).to_contain_text("Votre profil est enregistré")
    await expect(page.get_by_role("textbox", name="Poste téléphonique")).to_have_value("2108")
    await assert_accessible(page, "moi-admin")
    _status, record, _ = await platform.call("GET", f"/api/v1/users/{created['id']}", admin)
    assert record["phone_extension"] == "2108"


async def test_a_readonly_user_sees_their_profile_changes_their_password_and_no_admin(
    platform: Platform, admin: Headers, signed_in: SignedIn, assert_accessible: AssertAccessible
) -> None:
    created = await new_user(platform, admin, role="readonly")
    page = await signed_in(created["username"], PASSWORD)
    await page.goto("/moi")
    await expect(page.get_by_role("textbox", name="Poste téléphonique")).to_have_count(0)
    await expect(page.get_by_text("attribué par un administrateur")).to_be_visible()
    await page.get_by_label("Nom affiché").fill("Lucie Bernard")
    await page.get_by_role("button", name="Enregistrer").click()
    await expect(page.get_by_role("status")).to_contain_text("Votre profil est enregistré")
    await expect(page.locator(".user-menu summary")).to_have_text("Lucie Bernard")
    await assert_accessible(page, "moi-lecture-seule")

    await page.get_by_role("link", name="Changer mon mot de passe").first.click()
    await assert_accessible(page, "moi-mot-de-passe")
    await page.get_by_label("Mot de passe actuel").fill(PASSWORD)
    await page.locator("#new_password").fill("Encore-un-mot-de-passe-3")
    await page.get_by_label("Confirmez le nouveau mot de passe").fill("Encore-un-autre")
    await page.get_by_role("button", name="Changer le mot de passe").click()
    await expect(page.locator("#confirmation-erreur")).to_contain_text("ne correspond pas")
    await page.get_by_label("Confirmez le nouveau mot de passe").fill("Encore-un-mot-de-passe-3")
    await page.get_by_role("button", name="Changer le mot de passe").click()
    await expect(page.get_by_role("status")).to_contain_text("Votre mot de passe est changé")

    await expect(page.get_by_text("Administration", exact=True)).to_have_count(0)
    response = await page.goto("/admin/utilisateurs")
    assert response is not None
    assert response.status == 403
    await expect(page.get_by_role("heading", name="Accès refusé")).to_be_visible()
    await expect(page.get_by_text("réservée aux administrateurs")).to_be_visible()
    await assert_accessible(page, "admin-refuse")
