// The record page: French validation messages, the links beside e-mail/URL/phone inputs, the
// connection picker dialog, the tabs, and "save before any action" (tools disabled once the
// record is modified; leaving a modified record asks first). The page works without it.
"use strict";

(() => {
  const form = document.getElementById("record-form");
  const REASON = "Enregistrez la fiche avant d'utiliser les outils.";
  const LEAVE = "Vos modifications ne sont pas enregistrées. Quitter la fiche quand même ?";
  let modified = false;
  let leaving = false;

  // -- Save before any action -----------------------------------------------------------------

  function blockTools() {
    document.querySelectorAll("#tools-menu .tool, .call-button").forEach((tool) => {
      tool.setAttribute("aria-disabled", "true");
      if ("disabled" in tool) tool.disabled = true;
      tool.classList.add("blocked");
    });
    const reason = document.getElementById("tools-reason");
    if (reason) {
      reason.textContent = REASON;
      reason.hidden = false;
    }
  }

  function markModified() {
    if (modified) return;
    modified = true;
    const record = document.getElementById("record");
    if (record) record.dataset.modified = "true";
    blockTools();
  }

  // A blocked tool that is a link is not followed.
  document.addEventListener("click", (event) => {
    const blocked = event.target.closest("#tools-menu .tool.blocked, .call-button.blocked");
    if (blocked) {
      event.preventDefault();
      event.stopPropagation();
      const reason = document.getElementById("tools-reason");
      if (reason) reason.focus?.();
    }
  }, true);

  if (form) {
    if (form.dataset.modified === "true") markModified();
    form.addEventListener("input", markModified);
    form.addEventListener("change", markModified);
    form.addEventListener("submit", (event) => {
      if (!checkConnections(event)) return;
      leaving = true; // saving: no question on the way
    });

    // Leaving a modified record: links on the page, then anything else (beforeunload).
    document.addEventListener("click", (event) => {
      if (!modified || event.defaultPrevented) return;
      const link = event.target.closest("a[href]");
      if (!link || link.target === "_blank") return;
      const href = link.getAttribute("href");
      if (!href || href.startsWith("#") || /^(mailto|tel):/i.test(href)) return;
      if (window.confirm(LEAVE)) {
        leaving = true;
      } else {
        event.preventDefault();
      }
    });
    window.addEventListener("beforeunload", (event) => {
      if (modified && !leaving) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
  }

  // -- French validation messages, next to each field ------------------------------------------

  const KIND_MESSAGES = {
    number: "Saisissez un nombre entier (ex. 1 500).",
    percent: "Saisissez un pourcentage entier de 0 à 100 (ex. 25).",
    decimal: "Saisissez un nombre (ex. 1 234,50).",
    money: "Saisissez un montant en euros (ex. 1 234,50).",
  };

  function messageOf(input) {
    const v = input.validity;
    if (v.valueMissing) {
      return input.type === "checkbox" ? "Cochez cette case." : "Ce champ est obligatoire.";
    }
    if (v.typeMismatch && input.type === "email") {
      return "Saisissez une seule adresse e-mail valide (ex. nom@societe.fr).";
    }
    if (v.typeMismatch && input.type === "url") {
      return "Saisissez une adresse web complète, commençant par http:// ou https://.";
    }
    if (v.tooLong) return `Ne doit pas dépasser ${input.maxLength} caractères.`;
    if (v.patternMismatch) {
      return KIND_MESSAGES[input.dataset.kind] || input.title || "Format invalide.";
    }
    if (v.badInput) return "Valeur invalide : vérifiez la saisie.";
    if (v.rangeUnderflow || v.rangeOverflow) return "Valeur hors des limites acceptées.";
    return "";
  }

  function errorBox(input) {
    const field = input.closest(".field");
    if (!field) return null;
    let box = field.querySelector(":scope > .field-error.client, :scope > .with-actions ~ .field-error.client");
    if (!box) {
      box = document.createElement("p");
      box.className = "field-error client";
      box.id = `ce-${input.id}`;
      const anchor = field.querySelector(":scope > label, :scope > legend, :scope > .check");
      if (anchor) anchor.after(box); else field.prepend(box);
    }
    return box;
  }

  function describe(input, id, on) {
    const ids = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    const kept = ids.filter((other) => other !== id);
    if (on) kept.push(id);
    if (kept.length) input.setAttribute("aria-describedby", kept.join(" "));
    else input.removeAttribute("aria-describedby");
  }

  function showValidity(input) {
    input.setCustomValidity("");
    const text = input.validity.valid ? "" : messageOf(input);
    if (text) input.setCustomValidity(text);
    const box = errorBox(input);
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
    describe(input, box.id, Boolean(text));
    if (text) input.setAttribute("aria-invalid", "true");
    else if (!input.closest(".field").querySelector(".field-error:not(.client)")) {
      input.removeAttribute("aria-invalid");
    }
    input.closest(".field").classList.toggle("has-error", Boolean(text) ||
      Boolean(input.closest(".field").querySelector(".field-error:not(.client)")));
  }

  // A web address typed as a host name ("www.exemple.fr") gets "https://" before the browser
  // checks it and before it is sent; anything else is left for the checks to judge.
  const HOST_LIKE = /^[\p{L}\p{N}_-]+(\.[\p{L}\p{N}_-]+)+(:\d+)?([/?#]\S*)?$/u;

  function addScheme(input) {
    if (!input || input.type !== "url") return;
    const value = input.value.trim();
    if (HOST_LIKE.test(value)) {
      input.value = `https://${value}`;
      updateLinks(input);
    }
  }

  if (form) {
    // Leaving the input (a click on "Enregistrer" does), or Enter in it, before validation.
    form.addEventListener("change", (event) => addScheme(event.target), true);
    form.addEventListener("keydown", (event) => {
      if (event.key === "Enter") addScheme(event.target);
    }, true);
    form.addEventListener("click", (event) => {
      if (event.target.closest("button[type=submit], input[type=submit]")) {
        form.querySelectorAll("input[type=url]").forEach(addScheme);
      }
    }, true);
    form.addEventListener("invalid", (event) => {
      showValidity(event.target);
    }, true);
    form.addEventListener("input", (event) => {
      const input = event.target;
      if (input.matches("input, textarea, select") && input.closest(".field")?.querySelector(".field-error.client:not([hidden])")) {
        showValidity(input);
      }
      updateLinks(input);
    });
    form.addEventListener("change", (event) => {
      const input = event.target;
      if (input.matches("input, textarea, select") && input.willValidate) showValidity(input);
    });
  }

  // A required connection (a hidden id) cannot be checked by the browser: done here.
  function checkConnections(event) {
    let first = null;
    form.querySelectorAll("fieldset.connection[data-required]").forEach((set) => {
      const hidden = set.querySelector("input[type=hidden]");
      const radios = set.querySelectorAll("input[type=radio]");
      let empty = hidden ? !hidden.value : false;
      if (radios.length) empty = ![...radios].some((r) => r.checked && r.value);
      let box = set.querySelector(".field-error.client");
      if (empty) {
        if (!box) {
          box = document.createElement("p");
          box.className = "field-error client";
          box.id = `ce-${set.id}`;
          set.querySelector("legend").after(box);
        }
        box.textContent = "Ce champ est obligatoire : choisissez une fiche.";
        box.hidden = false;
        set.classList.add("has-error");
        first = first || set.querySelector(".picker-open:not([hidden]), input[type=search], input[type=radio]");
      } else if (box) {
        box.hidden = true;
      }
    });
    if (first && event.submitter && event.submitter.name === "_enregistrer") {
      event.preventDefault();
      first.focus();
      return false;
    }
    return true;
  }

  // -- Links beside the inputs follow what is typed ---------------------------------------------

  function telOf(text) {
    let digits = text.replace(/[\s.\-()]/g, "");
    if (!/^\+?\d{6,15}$/.test(digits)) return "";
    if (!digits.startsWith("+") && digits.startsWith("0") && digits.length === 10) {
      digits = "+33" + digits.slice(1);
    }
    return "tel:" + digits;
  }

  function updateLinks(input) {
    if (!input.id) return;
    const link = document.querySelector(`.field-action[data-for="${input.id}"]`);
    if (!link) return;
    const value = input.value.trim();
    let href = "";
    if (link.classList.contains("mail-link") && value && input.validity.valid) href = "mailto:" + value;
    if (link.classList.contains("web-link") && /^https?:\/\/\S+$/i.test(value) && input.validity.valid) href = value;
    if (link.classList.contains("tel-link")) href = telOf(value);
    link.hidden = !href;
    link.setAttribute("href", href || "#");
  }

  // -- The connection picker ----------------------------------------------------------------

  const dialog = document.getElementById("picker-dialog");
  let picking = null; // the "Choisir…" button of the field being chosen
  let searchTimer = null;

  // The account the form is about: its "Compte" as chosen now, else the record's. A picker of
  // records tied to an account (data-scoped) searches within it unless "Tous les comptes".
  function formAccount() {
    const input = form && form.querySelector(
      'input[name="account_id"]:not([type=radio]), input[name="account_id"][type=radio]:checked');
    return (input && input.value) || (picking && picking.dataset.account) || "";
  }

  function search() {
    if (!picking) return;
    const q = document.getElementById("picker-q").value;
    const params = new URLSearchParams({ q, champ: picking.dataset.field });
    if (picking.dataset.exclude) params.set("sauf", picking.dataset.exclude);
    const account = picking.dataset.scoped ? formAccount() : "";
    if (account) {
      params.set("compte", account);
      if (document.getElementById("picker-wide").checked) params.set("tous", "1");
    }
    const url = `/crm/${picking.dataset.collection}/choisir?${params}`;
    const results = document.getElementById("picker-results");
    results.setAttribute("aria-busy", "true");
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then((response) => {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then((html) => {
        if (window.htmx) {
          window.htmx.swap(results, html, { swapStyle: "innerHTML" });
        } else {
          results.innerHTML = html;
        }
      })
      .catch(() => {
        results.textContent = "La recherche n'a pas abouti ; réessayez.";
      })
      .finally(() => results.removeAttribute("aria-busy"));
  }

  if (form && dialog) {
    // With JavaScript, the dialog replaces the search box of each field.
    form.querySelectorAll("fieldset.connection").forEach((set) => {
      if (set.querySelector(".picker-candidates")) return; // a search made without the dialog
      set.querySelectorAll(".picker-open, .picker-clear").forEach((b) => { b.hidden = false; });
      const nojs = set.querySelector(".picker-nojs");
      if (nojs) nojs.hidden = true;
    });

    form.addEventListener("click", (event) => {
      const open = event.target.closest(".picker-open");
      if (open) {
        picking = open;
        document.getElementById("picker-title").textContent = `Choisir : ${open.dataset.label.toLowerCase()}`;
        document.getElementById("picker-q-hint").textContent = open.dataset.search || "";
        const q = document.getElementById("picker-q");
        q.value = "";
        document.getElementById("picker-results").replaceChildren();
        document.getElementById("picker-wide").checked = false;
        document.getElementById("picker-wide-box").hidden = !(open.dataset.scoped && formAccount());
        dialog.showModal();
        q.focus();
        search();
        return;
      }
      const clear = event.target.closest(".picker-clear");
      if (clear) {
        const hidden = document.getElementById(clear.dataset.input);
        hidden.value = "";
        const current = document.getElementById(`c-${clear.dataset.field}`);
        const empty = document.createElement("span");
        empty.className = "empty";
        empty.textContent = "Aucun";
        current.replaceChildren(empty);
        clear.disabled = true;
        form.querySelector(`.picker-open[data-field="${clear.dataset.field}"]`)?.focus();
        markModified();
      }
    });

    document.getElementById("picker-q").addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(search, 250);
    });
    document.getElementById("picker-q").addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        clearTimeout(searchTimer);
        search();
      }
    });
    document.getElementById("picker-wide").addEventListener("change", () => {
      clearTimeout(searchTimer);
      search();
    });
    dialog.querySelector(".picker-close").addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      if (picking) picking.focus();
    });
    dialog.addEventListener("click", (event) => {
      const choice = event.target.closest(".picker-choice");
      if (!choice || !picking) return;
      const field = picking.dataset.field;
      document.getElementById(picking.dataset.input).value = choice.dataset.id;
      const link = document.createElement("a");
      link.href = choice.dataset.href;
      link.textContent = choice.dataset.title;
      document.getElementById(`c-${field}`).replaceChildren(link);
      const clear = form.querySelector(`.picker-clear[data-field="${field}"]`);
      if (clear) clear.disabled = false;
      const set = document.getElementById(`fld-${field}`);
      const box = set && set.querySelector(".field-error.client");
      if (box) box.hidden = true;
      markModified();
      dialog.close();
    });
  }

  // -- Tabs (sections with headings without JavaScript) ---------------------------------------

  document.querySelectorAll("[data-tabs]").forEach((container, index) => {
    const panels = [...container.querySelectorAll(":scope > section.tab-panel, :scope > * > section.tab-panel")]
      .filter((panel) => panel.closest("[data-tabs]") === container);
    if (panels.length < 2) return;
    const list = document.createElement("div");
    list.setAttribute("role", "tablist");
    list.setAttribute("aria-label", "Onglets de la fiche");
    list.className = "tablist";
    const tabs = panels.map((panel, i) => {
      const title = panel.querySelector(".tab-title, h2");
      const tab = document.createElement("button");
      tab.type = "button";
      tab.setAttribute("role", "tab");
      tab.id = `tab-${index}-${panel.id || i}`;
      tab.setAttribute("aria-controls", panel.id);
      tab.textContent = title ? title.textContent.trim() : `Onglet ${i + 1}`;
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", tab.id);
      panel.tabIndex = 0;
      if (title) title.classList.add("visually-hidden");
      list.append(tab);
      return tab;
    });
    const select = (tab, focus) => {
      tabs.forEach((other, i) => {
        const on = other === tab;
        other.setAttribute("aria-selected", String(on));
        other.tabIndex = on ? 0 : -1;
        panels[i].hidden = !on;
      });
      if (focus) tab.focus();
    };
    // A chosen tab is kept in the address (#onglet-…): a reload or a shared link shows it.
    const remember = (tab) => history.replaceState(null, "", `#${tab.getAttribute("aria-controls")}`);
    list.addEventListener("click", (event) => {
      const tab = event.target.closest("[role=tab]");
      if (tab) {
        select(tab, false);
        remember(tab);
      }
    });
    list.addEventListener("keydown", (event) => {
      const at = tabs.indexOf(document.activeElement);
      if (at < 0) return;
      let next = null;
      if (event.key === "ArrowRight") next = tabs[(at + 1) % tabs.length];
      if (event.key === "ArrowLeft") next = tabs[(at - 1 + tabs.length) % tabs.length];
      if (event.key === "Home") next = tabs[0];
      if (event.key === "End") next = tabs[tabs.length - 1];
      if (next) {
        event.preventDefault();
        select(next, true);
        remember(next);
      }
    });
    container.prepend(list);
    const wanted = tabs.find((tab) => `#${tab.getAttribute("aria-controls")}` === location.hash);
    select(wanted || tabs[0], false);
  });

  // "Vue 360° ↓" in the header: down to the tabs, the focus on the chosen tab (without
  // JavaScript the link still scrolls there and Tab continues from there).
  document.getElementById("lien-onglets")?.addEventListener("click", (event) => {
    const tabs = document.getElementById("onglets");
    if (!tabs) return;
    event.preventDefault();
    const target = tabs.querySelector("[role=tab][aria-selected=true]") || tabs;
    if (target === tabs) tabs.setAttribute("tabindex", "-1");
    tabs.scrollIntoView({ block: "start" });
    target.focus({ preventScroll: true });
  });

  // After a refused save, the error summary takes the focus (GOV.UK pattern).
  const summary = document.getElementById("error-summary");
  if (summary) summary.focus();
  else document.getElementById("conflict")?.setAttribute("tabindex", "-1");
  if (!summary) document.getElementById("conflict")?.focus();
})();
