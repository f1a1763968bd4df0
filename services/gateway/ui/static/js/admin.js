// Administration and the user's pages: small enhancements; every page works without them.
"use strict";

(() => {
  // Variables of Word templates: a "Copier" button beside each (shown only where it works).
  const copyButtons = document.querySelectorAll("button.copy[data-copy]");
  if (navigator.clipboard) {
    copyButtons.forEach((button) => {
      button.hidden = false;
      button.addEventListener("click", async () => {
        const live = document.getElementById("live-region");
        try {
          await navigator.clipboard.writeText(button.dataset.copy);
          button.classList.add("copied");
          if (live) live.textContent = `Copié : ${button.dataset.copy}`;
        } catch (_error) {
          if (live) live.textContent = "La copie a échoué : sélectionnez le texte et copiez-le.";
        }
      });
    });
  }

  // Shows a message next to a field (as the server would), and focuses the field.
  function fieldError(input, message) {
    const field = input.closest(".field");
    if (!field) return;
    let error = field.querySelector(".field-error");
    if (!error) {
      error = document.createElement("span");
      error.className = "field-error";
      error.id = `${input.id}-erreur`;
      input.before(error);
      const described = input.getAttribute("aria-describedby");
      input.setAttribute("aria-describedby", described ? `${described} ${error.id}` : error.id);
    }
    error.textContent = message;
    field.classList.add("has-error");
    input.setAttribute("aria-invalid", "true");
  }

  function clearError(input) {
    const field = input.closest(".field");
    if (!field) return;
    const error = field.querySelector(".field-error");
    if (error) error.textContent = "";
    field.classList.remove("has-error");
    input.removeAttribute("aria-invalid");
  }

  // Word template upload: too big or not a .docx is said before sending.
  document.querySelectorAll("form[data-max-bytes]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      const input = form.querySelector('input[type="file"]');
      const file = input && input.files && input.files[0];
      const max = Number(form.dataset.maxBytes);
      if (!input) return;
      clearError(input);
      let message = "";
      if (!file) message = "Joignez le modèle Word (.docx).";
      else if (!file.name.toLowerCase().endsWith(".docx")) message = "Choisissez un document Word au format .docx.";
      else if (max && file.size > max) message = `Fichier trop volumineux : au plus ${Math.floor(max / 1048576)} Mo.`;
      if (message) {
        event.preventDefault();
        fieldError(input, message);
        input.focus();
      }
    });
  });

  // Password forms: the confirmation must match before sending.
  document.querySelectorAll("form[data-confirm-password]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      const first = form.querySelector('input[name="new_password"]');
      const second = form.querySelector('input[name="confirmation"]');
      if (!first || !second) return;
      clearError(second);
      if (first.value !== second.value) {
        event.preventDefault();
        fieldError(second, "La confirmation ne correspond pas au nouveau mot de passe.");
        second.focus();
      }
    });
  });

  // A page that comes back with errors: the summary takes the focus, so it is read first.
  const summary = document.querySelector(".admin-page .error-summary");
  if (summary) summary.focus();
})();
