/* The map. The server draws every node as a dot in an SVG plot (works without JavaScript and without
   tiles). Here, when the city's tile server is configured and Leaflet is loaded (both from this fleet),
   the same points become a Leaflet map; tapping it fills in the position form. "Use this phone's
   location" appears where the browser can tell (secure pages only). Names go in as text, never HTML. */
(function () {
  "use strict";
  var field = document.getElementById("position");
  function fill(lat, lon) {
    if (field) { field.value = lat.toFixed(6) + ", " + lon.toFixed(6); }
  }
  var locate = document.querySelector("[data-locate]");
  if (locate && field && navigator.geolocation && window.isSecureContext) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (p) { fill(p.coords.latitude, p.coords.longitude); },
        function () {}, { enableHighAccuracy: true, timeout: 20000 });
    });
  }
  var box = document.querySelector("[data-map]");
  var source = document.getElementById("map-points");
  if (!box || !box.getAttribute("data-tiles") || !window.L || !source) { return; }
  var data = JSON.parse(source.textContent);
  var colours = { ok: "#0a6b2d", warning: "#8a5a00", critical: "#b00020", offline: "#333", unknown: "#767676" };
  var holder = document.createElement("div");
  holder.className = "leaflet-holder";
  box.insertBefore(holder, box.firstChild);
  box.classList.add("tiled");
  var map = L.map(holder, { scrollWheelZoom: false });
  L.tileLayer(box.getAttribute("data-tiles"), {
    maxZoom: parseInt(box.getAttribute("data-max-zoom"), 10) || 19,
    attribution: "" // set as text below: the attribution setting is the city's words, not HTML
  }).addTo(map);
  var credit = box.getAttribute("data-attribution");
  if (credit) { map.attributionControl.setPrefix(false); map.attributionControl.addAttribution(credit.replace(/[<>&]/g, "")); }
  var focus = box.getAttribute("data-focus");
  var bounds = [];
  data.points.forEach(function (p) {
    var mine = p[5] === focus;
    var marker = L.circleMarker([p[0], p[1]], {
      radius: mine ? 11 : 8, color: "#fff", weight: mine ? 4 : 2, fillColor: colours[p[2]] || "#767676", fillOpacity: 1
    }).addTo(map);
    var name = document.createElement("span");
    name.textContent = p[3];
    marker.bindTooltip(name);
    marker.on("click", function () { window.location.href = p[4]; });
    bounds.push([p[0], p[1]]);
  });
  if (bounds.length) { map.fitBounds(bounds, { padding: [24, 24], maxZoom: 17 }); }
  else { map.setView(data.center, 14); }
  if (field) {
    var pin = null;
    map.on("click", function (e) {
      fill(e.latlng.lat, e.latlng.lng);
      if (pin) { pin.setLatLng(e.latlng); }
      else { pin = L.circleMarker(e.latlng, { radius: 12, color: "#111", weight: 3, dashArray: "4 3", fillOpacity: 0 }).addTo(map); }
    });
  }
})();
