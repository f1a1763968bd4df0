// The tools menu ("Outils"), a <details> menu that works without JavaScript: with it, Escape
// closes the menu (focus back on "Outils") and a click elsewhere closes it. Disabling the
// tools while the record holds unsaved changes is record.js's ("save before any action").
"use strict";
(function () {
  function menu() {
    var panel = document.getElementById("tools-menu");
    return panel ? panel.closest("details") : null;
  }

  document.addEventListener("keydown", function (event) {
    var details = menu();
    if (event.key !== "Escape" || !details || !details.open) { return; }
    if (!details.contains(document.activeElement)) { return; }
    details.open = false;
    details.querySelector("summary").focus();
  });

  document.addEventListener("click", function (event) {
    var details = menu();
    if (details && details.open && !details.contains(event.target)) { details.open = false; }
  });
})();
