// webleads-tracker: small behaviours shared by every page (no inline script: the CSP forbids it).
"use strict";

// Menus (<details>): Escape closes the open one and gives the focus back to its summary;
// a click elsewhere closes it.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const open = document.querySelector("details.menu[open]");
  if (open) {
    open.removeAttribute("open");
    open.querySelector("summary").focus();
  }
});
document.addEventListener("click", (event) => {
  document.querySelectorAll("details.menu[open]").forEach((menu) => {
    if (!menu.contains(event.target)) menu.removeAttribute("open");
  });
});

// An htmx request the server could not answer (5xx): say so in the live region. (A session that
// ended is answered 401 with HX-Redirect, which htmx follows by itself.)
document.addEventListener("htmx:responseError", (event) => {
  const live = document.getElementById("live-region");
  if (live && event.detail.xhr.status >= 500) {
    live.textContent = "Le serveur n'a pas pu répondre : réessayez dans un instant.";
  }
});
