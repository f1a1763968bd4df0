// The tools menu and the 360° tabs.
// - Tools act on the saved record: once the record's form holds unsaved changes, every tool
//   is disabled and #tools-reason says why (record.js may do the same: this is idempotent).
// - The 360° tabs: without JavaScript they are sections with headings, one after the other;
//   with it, a tab list (WAI-ARIA tabs: arrow keys, Home, End) showing one panel at a time.
"use strict";
(function () {
  var SAVE_FIRST = "Enregistrez la fiche avant d'utiliser les outils.";

  function disableTools() {
    var reason = document.getElementById("tools-reason");
    document.querySelectorAll("#tools-menu .tool").forEach(function (tool) {
      tool.disabled = true;
      tool.setAttribute("aria-describedby", "tools-reason");
    });
    if (reason && reason.textContent !== SAVE_FIRST) { reason.textContent = SAVE_FIRST; }
  }

  function watchForm() {
    var record = document.getElementById("record");
    if (!record || !document.getElementById("tools-menu")) { return; }
    var form = record.querySelector("form.record-form") || record.querySelector("form");
    if (!form) { return; }
    var changed = function (event) {
      if (event.target && event.target.closest && event.target.closest("#tools-menu")) { return; }
      disableTools();
    };
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
  }

  function select(tabs, tab, focus) {
    tabs.forEach(function (other) {
      var selected = other === tab;
      other.setAttribute("aria-selected", selected ? "true" : "false");
      other.tabIndex = selected ? 0 : -1;
      var panel = document.getElementById(other.getAttribute("aria-controls"));
      if (panel) { panel.hidden = !selected; }
    });
    if (focus) { tab.focus(); }
  }

  function setupTabs(root) {
    if (root.dataset.tabsReady) { return; }
    root.dataset.tabsReady = "1";
    var list = root.querySelector(".tabs360-list");
    if (!list) { return; }
    var tabs = Array.prototype.slice.call(list.querySelectorAll("[role=tab]"));
    if (!tabs.length) { return; }
    list.hidden = false;
    root.classList.add("tabs-active");
    root.querySelectorAll(".tab-panel").forEach(function (panel) {
      panel.setAttribute("role", "tabpanel");
      panel.tabIndex = 0;
    });
    tabs.forEach(function (tab, index) {
      tab.addEventListener("click", function (event) {
        event.preventDefault();
        select(tabs, tab, true);
      });
      tab.addEventListener("keydown", function (event) {
        var next = null;
        if (event.key === "ArrowRight") { next = tabs[(index + 1) % tabs.length]; }
        else if (event.key === "ArrowLeft") { next = tabs[(index - 1 + tabs.length) % tabs.length]; }
        else if (event.key === "Home") { next = tabs[0]; }
        else if (event.key === "End") { next = tabs[tabs.length - 1]; }
        if (next) {
          event.preventDefault();
          select(tabs, next, true);
        }
      });
    });
    var wanted = window.location.hash.replace("#", "");
    var first = tabs.filter(function (tab) { return tab.getAttribute("aria-controls") === wanted; })[0];
    select(tabs, first || tabs[0], false);
  }

  function start() {
    watchForm();
    document.querySelectorAll(".tabs360").forEach(setupTabs);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll(".tabs360").forEach(setupTabs);
  });
})();
