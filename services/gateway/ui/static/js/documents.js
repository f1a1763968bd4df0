// Quotes and invoices: the lines editor (add and remove lines in the page, totals that follow
// the input) and the workflow's buttons (a confirmation before what cannot be undone; disabled
// while the record has unsaved changes). Without this file the same forms work by posting.
//
// Totals are computed exactly as the server does (services/documents/domain.py): each line's
// net = quantity × unit price × (100 − discount) / 100 rounded half-up to the cent, then per VAT
// rate the VAT of the summed bases rounded half-up, then the sums. Decimals are BigInt numbers of
// units of 10^-scale, never floats: no drift. The server stays the truth: its totals show once
// the record is saved.
"use strict";

(() => {
  const NNBSP = "\u202f"; // between thousands
  const NBSP = "\u00a0"; // before € and %

  // "1 234,50" (or "1234.50", "1.234,5", "20 %", "12 €") → {n: 123450n, scale: 2}; null when
  // it is no number. The same reading as pages/documents.py french_decimal.
  function parseDecimal(text) {
    let s = String(text).replace(/[\s\u00a0\u202f\u2009']+/g, "");
    s = s.replace(/€$/, "").replace(/%$/, "");
    if (!s) return null;
    const comma = s.lastIndexOf(",");
    const dot = s.lastIndexOf(".");
    if (comma >= 0 && dot >= 0) {
      const mark = comma > dot ? "," : ".";
      const grouping = mark === "," ? "." : ",";
      s = s.split(grouping).join("").split(mark).join(".");
    } else if (comma >= 0) {
      if (s.indexOf(",") !== comma) return null;
      s = s.replace(",", ".");
    } else if (s.indexOf(".") !== dot) {
      s = s.split(".").join(""); // 1.234.567: thousands
    }
    const found = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(s);
    if (!found || (!found[2] && !found[3])) return null;
    const fraction = found[3] || "";
    const digits = BigInt((found[2] || "0") + fraction);
    return { n: found[1] === "-" ? -digits : digits, scale: fraction.length };
  }

  const pow10 = (k) => 10n ** BigInt(k);

  // numerator / denominator rounded half away from zero (Python's ROUND_HALF_UP).
  function roundHalfUp(numerator, denominator) {
    const negative = numerator < 0n !== denominator < 0n;
    const num = numerator < 0n ? -numerator : numerator;
    const den = denominator < 0n ? -denominator : denominator;
    let quotient = num / den;
    if ((num % den) * 2n >= den) quotient += 1n;
    return negative ? -quotient : quotient;
  }

  // A line's net in cents, or null when its quantity, price or discount cannot be read.
  function lineNet(quantity, price, discount) {
    if (!quantity || !price) return null;
    const off = discount || { n: 0n, scale: 0 };
    const kept = 100n * pow10(off.scale) - off.n; // (100 − discount) × 10^scale
    // net = q × p × kept / 10^(qs+ps+ds) / 100 euros, so in cents the 100s cancel out.
    return roundHalfUp(quantity.n * price.n * kept, pow10(quantity.scale + price.scale + off.scale));
  }

  function groupThousands(digits) {
    const groups = [];
    for (let end = digits.length; end > 0; end -= 3) {
      groups.unshift(digits.slice(Math.max(0, end - 3), end));
    }
    return groups.join(NNBSP);
  }

  // 123450n cents → "1 234,50 €", as the pages' money filter writes it.
  function money(cents) {
    const negative = cents < 0n;
    const units = negative ? -cents : cents;
    const whole = groupThousands((units / 100n).toString());
    const fraction = (units % 100n).toString().padStart(2, "0");
    return `${negative ? "-" : ""}${whole},${fraction}${NBSP}€`;
  }

  // "5.5" → "5,5 %".
  function percent(rate) {
    let digits = rate.n.toString().padStart(rate.scale + 1, "0");
    if (rate.scale > 0) {
      digits = `${digits.slice(0, -rate.scale)},${digits.slice(-rate.scale)}`.replace(/,?0+$/, "");
    }
    return `${digits}${NBSP}%`;
  }

  const rateKey = (rate) => `${rate.n}e-${rate.scale}`;
  const rateValue = (rate) => Number(rate.n) / 10 ** rate.scale; // for ordering only

  // -- The lines editor ------------------------------------------------------------------------

  function fieldOf(row, name) {
    return row.querySelector(`[data-line-field="${name}"]`);
  }

  function isBlank(row) {
    return ["description", "quantity", "unit_price", "discount_percent"].every(
      (name) => !fieldOf(row, name).value.trim(),
    );
  }

  function recompute(editor) {
    const rows = editor.querySelectorAll("[data-lines-body] > tr[data-line]");
    const bases = new Map(); // rate key → {rate, base}
    let net = 0n;
    const incomplete = [];
    rows.forEach((row, index) => {
      const output = row.querySelector("[data-line-net]");
      if (isBlank(row)) {
        output.textContent = "";
        return;
      }
      const quantity = parseDecimal(fieldOf(row, "quantity").value);
      const price = parseDecimal(fieldOf(row, "unit_price").value);
      const discountText = fieldOf(row, "discount_percent").value.trim();
      const discount = discountText ? parseDecimal(discountText) : null;
      const rate = parseDecimal(fieldOf(row, "vat_rate").value);
      const amount = discountText && !discount ? null : lineNet(quantity, price, discount);
      if (amount === null || !rate) {
        output.textContent = "—";
        incomplete.push(index + 1);
        return;
      }
      output.textContent = money(amount);
      net += amount;
      const key = rateKey(rate);
      const kept = bases.get(key) || { rate, base: 0n };
      kept.base += amount;
      bases.set(key, kept);
    });
    const byRate = [...bases.values()].sort((a, b) => rateValue(b.rate) - rateValue(a.rate));
    let vat = 0n;
    const vatRows = editor.querySelector("[data-vat-rows]");
    vatRows.replaceChildren();
    byRate.forEach(({ rate, base }) => {
      const amount = roundHalfUp(base * rate.n, pow10(rate.scale) * 100n);
      vat += amount;
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.append(`TVA ${percent(rate)} `);
      const on = document.createElement("span");
      on.className = "hint";
      on.textContent = `sur ${money(base)}`;
      th.append(on);
      const td = document.createElement("td");
      td.className = "number";
      td.textContent = money(amount);
      tr.append(th, td);
      vatRows.append(tr);
    });
    editor.querySelector('[data-total="net"]').textContent = money(net);
    editor.querySelector('[data-total="gross"]').textContent = money(net + vat);
    const note = editor.querySelector("[data-totals-note]");
    const pending = "Totaux provisoires : ils sont recalculés à l'enregistrement.";
    if (incomplete.length) {
      const which = incomplete.length > 1 ? "Lignes" : "Ligne";
      note.textContent = `${which} ${incomplete.join(", ")} incomplète${incomplete.length > 1 ? "s" : ""} (quantité ou prix illisible) : non comptée${incomplete.length > 1 ? "s" : ""}. ${pending}`;
    } else {
      note.textContent = pending;
    }
  }

  function renumber(editor) {
    editor.querySelectorAll("[data-lines-body] > tr[data-line]").forEach((row, index) => {
      row.querySelectorAll("[data-line-no]").forEach((element) => {
        element.textContent = String(index + 1);
      });
    });
  }

  function nextIndex(editor) {
    let highest = -1;
    editor.querySelectorAll("[data-lines-body] [data-line-field='description']").forEach((el) => {
      const found = /^lines-(\d+)-/.exec(el.name);
      if (found) highest = Math.max(highest, Number(found[1]));
    });
    return highest + 1;
  }

  // Tell the record form (its unsaved-changes watch) that the lines changed.
  function changed(editor) {
    editor.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function addLine(editor) {
    const template = editor.querySelector("template[data-line-template]");
    const index = String(nextIndex(editor));
    const html = template.innerHTML.split("__i__").join(index);
    const holder = document.createElement("tbody");
    holder.innerHTML = html;
    const row = holder.querySelector("tr");
    editor.querySelector("[data-lines-body]").append(row);
    renumber(editor);
    fieldOf(row, "description").focus();
    changed(editor);
  }

  function removeLine(editor, row) {
    const rows = [...editor.querySelectorAll("[data-lines-body] > tr[data-line]")];
    const position = rows.indexOf(row);
    if (rows.length === 1) {
      row.querySelectorAll("textarea, input").forEach((input) => {
        input.value = "";
      });
      fieldOf(row, "vat_rate").value = "20";
      fieldOf(row, "description").focus();
    } else {
      row.remove();
      const next = rows[position + 1] || rows[position - 1];
      fieldOf(next, "description").focus();
    }
    renumber(editor);
    changed(editor);
  }

  function setUpEditor(editor) {
    if (!editor.querySelector("[data-lines-body]")) return; // read-only lines
    editor.addEventListener("click", (event) => {
      const add = event.target.closest("[data-line-add]");
      const remove = event.target.closest("[data-line-remove]");
      if (add) {
        event.preventDefault();
        addLine(editor);
      } else if (remove) {
        event.preventDefault();
        removeLine(editor, remove.closest("tr[data-line]"));
      }
    });
    editor.addEventListener("input", () => recompute(editor));
    editor.addEventListener("change", () => recompute(editor));
    if (!editor.hasAttribute("data-stored")) recompute(editor);
  }

  // -- The workflow's buttons ------------------------------------------------------------------

  function setUpActions(section) {
    section.querySelectorAll("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
    const editor = document.querySelector("[data-lines-editor]");
    const recordForm = editor ? editor.closest("form") : null;
    const note = section.querySelector("[data-dirty-note]");
    if (!recordForm || !note) return;
    const markDirty = () => {
      if (!note.hidden) return;
      note.hidden = false;
      section.querySelectorAll("form.document-action button").forEach((button) => {
        button.disabled = true;
        button.setAttribute("aria-describedby", note.id);
      });
    };
    recordForm.addEventListener("input", markDirty);
    recordForm.addEventListener("change", markDirty);
    // The form shown again after a refused save holds input that is not saved.
    if (recordForm.dataset.modified === "true") markDirty();
  }

  function setUp() {
    document.querySelectorAll("[data-lines-editor]").forEach(setUpEditor);
    document.querySelectorAll("[data-document-actions]").forEach(setUpActions);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
