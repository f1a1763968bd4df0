// List views: a double-click on a row, or Enter on a focused row, opens its record (the title
// link in each row opens it too, without JavaScript). Delegated, so rows an htmx swap brings
// in behave alike.
"use strict";

(() => {
  const rowOf = (target) =>
    target instanceof Element ? target.closest("table.list-table tbody tr[data-href]") : null;

  const open = (row) => {
    const href = row.getAttribute("data-href");
    if (href && href.startsWith("/")) window.location.assign(href);
  };

  document.addEventListener("dblclick", (event) => {
    const row = rowOf(event.target);
    if (!row) return;
    // A double-click on a link or a button inside the row does what that control does.
    if (event.target.closest("a, button, input, select, textarea")) return;
    event.preventDefault();
    open(row);
  });

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.altKey || event.ctrlKey || event.metaKey) return;
    const row = rowOf(event.target);
    if (!row || event.target !== row) return; // Enter on a link inside follows that link
    event.preventDefault();
    open(row);
  });
})();
