// Carte: the account on a Leaflet map. Everything comes from #map's data attributes (the
// page's Content-Security-Policy forbids inline script); without a tile server, or when its
// tiles fail, the marker still shows on a plain background, and the page's text gives the
// address and coordinates.
"use strict";
(function () {
  function start() {
    var box = document.getElementById("map");
    if (!box || typeof L === "undefined") { return; }
    var lat = parseFloat(box.dataset.lat), lon = parseFloat(box.dataset.lon);
    if (isNaN(lat) || isNaN(lon)) { return; }
    var zoom = { address: 17, street: 16, locality: 14, city: 13 }[box.dataset.precision] || 12;
    var map = L.map(box, { scrollWheelZoom: false }).setView([lat, lon], zoom);
    map.attributionControl.setPrefix(false);
    var note = document.getElementById("map-note");
    if (box.dataset.tiles) {
      var failed = false;
      L.tileLayer(box.dataset.tiles, { maxZoom: 19, attribution: box.dataset.attribution || "" })
        .on("tileerror", function () {
          if (failed || !note) { return; }
          failed = true;
          note.textContent = "Le fond de carte ne répond pas : seul le repère est affiché.";
        })
        .addTo(map);
    }
    var icon = L.icon({
      iconUrl: "/static/leaflet/images/marker-icon.png",
      iconRetinaUrl: "/static/leaflet/images/marker-icon-2x.png",
      shadowUrl: "/static/leaflet/images/marker-shadow.png",
      iconSize: [25, 41], iconAnchor: [12, 41], popupAnchor: [1, -34], shadowSize: [41, 41]
    });
    var label = box.dataset.label + (box.dataset.address ? " — " + box.dataset.address : "");
    L.marker([lat, lon], { icon: icon, title: label, alt: label, keyboard: true })
      .addTo(map)
      .bindPopup(document.createTextNode(label))
      .openPopup();
    box.classList.add("map-ready");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
