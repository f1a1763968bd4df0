// live: a record page hears of other people's changes as they happen.
//
// On a record page with an id (#record carries data-collection, data-id, data-version), an
// EventSource follows /crm/{collection}/{id}/evenements (pages/live.py):
// - "changed": the banner of partials/live.html says who changed the record, when and which
//   fields, and offers to reload it; input not saved yet is kept, with a word that saving it
//   will conflict (the save then says who saved first);
// - "related": a smaller notice at the top of the tabs (a contact added to this account...);
// - "ended": the session ended, the page stops listening.
// The browser reconnects by itself after a network or gateway outage; the stream stops when the
// page is left (and starts again if the page comes back from the browser's cache).
// A stream may be refused without a word to the user: too many open in this session (429: the
// same person's other tabs) or on this gateway (503), a gateway restarting. It is tried again a
// few times, later and later (a little at random, so tabs refused together do not come back
// together), then once more when the tab is shown again.
"use strict";

(function () {
  var RELATED_KEPT = 5;
  var REFUSED_RETRIES = 3; // a refused stream (gateway restarting) is tried again, not forever
  var REFUSED_DELAY_MS = 30000; // the gateway's Retry-After for a refused stream
  var REFUSED_JITTER_MS = 10000;

  function start() {
    var record = document.getElementById("record");
    var banner = document.getElementById("direct-fiche");
    var related = document.getElementById("direct-liees");
    if (!record || !banner || !record.dataset.id || !window.EventSource) {
      return;
    }
    var tabs = document.getElementById("onglets");
    if (related && tabs) {
      tabs.insertBefore(related, tabs.firstChild);
    }
    var box = banner.closest(".live");
    var listUrl = box ? box.dataset.liveList : "";
    var plural = box ? box.dataset.livePlural : "";
    var url = "/crm/" + encodeURIComponent(record.dataset.collection) + "/" +
      encodeURIComponent(record.dataset.id) + "/evenements?version=" +
      encodeURIComponent(record.dataset.version || "0");
    var source = null;
    var told = 0;
    var relatedItems = [];
    var refused = 0;
    var retry = null;
    var ended = false; // the session ended: nothing more to hear
    var saving = false; // this page's own save is on its way: its event is no news here

    record.addEventListener("submit", function () {
      saving = true;
    });

    function pageVersion() {
      var version = parseInt(record.dataset.version || "0", 10);
      return isNaN(version) ? 0 : version;
    }

    function unsaved() {
      var forms = record.querySelectorAll("form");
      for (var f = 0; f < forms.length; f++) {
        if (forms[f].dataset.modified === "true") {
          return true;
        }
        var elements = forms[f].elements;
        for (var i = 0; i < elements.length; i++) {
          var el = elements[i];
          if (el.type === "hidden" || el.disabled) {
            continue;
          }
          if (el.type === "checkbox" || el.type === "radio") {
            if (el.checked !== el.defaultChecked) {
              return true;
            }
          } else if (el.tagName === "SELECT") {
            for (var o = 0; o < el.options.length; o++) {
              if (el.options[o].selected !== el.options[o].defaultSelected) {
                return true;
              }
            }
          } else if ("defaultValue" in el && el.value !== el.defaultValue) {
            return true;
          }
        }
      }
      return false;
    }

    function paragraph(text, className) {
      var p = document.createElement("p");
      p.textContent = text;
      if (className) {
        p.className = className;
      }
      return p;
    }

    function reloadLink(text) {
      var link = document.createElement("a");
      link.className = "button primary";
      link.href = window.location.pathname;
      link.textContent = text;
      return link;
    }

    function showChanged(data) {
      told += 1;
      banner.textContent = "";
      banner.appendChild(paragraph(data.message, "live-message"));
      if (told > 1) {
        banner.appendChild(paragraph(told + " modifications depuis l'ouverture de la fiche."));
      }
      var actions = document.createElement("p");
      actions.className = "live-actions";
      if (data.change === "deleted") {
        if (listUrl) {
          var back = document.createElement("a");
          back.className = "button primary";
          back.href = listUrl;
          back.textContent = "Retour à la liste des " + plural.toLowerCase();
          actions.appendChild(back);
        }
      } else {
        if (unsaved()) {
          banner.appendChild(paragraph(
            "Vos saisies non enregistrées sont conservées, mais les enregistrer entrera en " +
            "conflit avec cette modification : rechargez la fiche pour repartir de la " +
            "version à jour.", "live-unsaved"));
        }
        actions.appendChild(reloadLink("Recharger la fiche"));
      }
      banner.appendChild(actions);
    }

    function showRelated(data) {
      if (!related) {
        return;
      }
      relatedItems.unshift(data);
      relatedItems = relatedItems.slice(0, RELATED_KEPT);
      related.textContent = "";
      var list = document.createElement("ul");
      relatedItems.forEach(function (item) {
        var li = document.createElement("li");
        li.textContent = item.message + " ";
        if (item.change !== "deleted" && item.collection && item.id) {
          var open = document.createElement("a");
          open.href = "/crm/" + encodeURIComponent(item.collection) + "/" +
            encodeURIComponent(item.id);
          open.textContent = "Ouvrir";
          open.setAttribute("aria-label", "Ouvrir " + (item.title || "la fiche liée"));
          li.appendChild(open);
        }
        list.appendChild(li);
      });
      related.appendChild(list);
      var again = paragraph("Les onglets seront à jour au rechargement de la fiche. ");
      var link = document.createElement("a");
      link.href = window.location.pathname;
      link.textContent = "Recharger la fiche";
      again.appendChild(link);
      related.appendChild(again);
    }

    function parse(event) {
      try {
        return JSON.parse(event.data);
      } catch (e) {
        return null;
      }
    }

    function open() {
      retry = null;
      if (source) {
        return;
      }
      source = new EventSource(url);
      source.addEventListener("changed", function (event) {
        var data = parse(event);
        if (data && data.version > pageVersion() && !(saving && data.own)) {
          showChanged(data);
        }
      });
      source.addEventListener("related", function (event) {
        var data = parse(event);
        if (data) {
          showRelated(data);
        }
      });
      source.addEventListener("open", function () {
        refused = 0;
      });
      source.addEventListener("ended", function () {
        ended = true;
        close();
      });
      source.addEventListener("error", function () {
        // CONNECTING: the browser tries again by itself. CLOSED: the stream was refused (the
        // record is gone, the session ended, too many streams, a gateway restarting): tried
        // again a few times, quietly.
        if (source && source.readyState === EventSource.CLOSED) {
          close();
          if (!ended && refused < REFUSED_RETRIES) {
            refused += 1;
            retry = window.setTimeout(
              open, REFUSED_DELAY_MS * refused + Math.floor(Math.random() * REFUSED_JITTER_MS));
          }
        }
      });
    }

    function close() {
      if (retry !== null) {
        window.clearTimeout(retry);
        retry = null;
      }
      if (source) {
        source.close();
        source = null;
      }
    }

    document.addEventListener("visibilitychange", function () {
      // Given up while the tab was hidden (other tabs held the streams): one more round.
      if (document.visibilityState === "visible" && !source && retry === null && !ended &&
          refused >= REFUSED_RETRIES) {
        refused = 0;
        open();
      }
    });
    window.addEventListener("pagehide", close);
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) {
        open();
      }
    });
    open();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
