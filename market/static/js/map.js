// Maps with Leaflet served by the app itself. Under everything lies the prefectures of
// Japan, shipped as data (static/basemap/); tiles from the configured URL draw on top of it
// when they load, so offline or on an intranet the map still shows where things are.
(function () {
  "use strict";
  var basemap = null;  // one fetch of the outlines for every map of the page
  function drawBasemap(map, url) {
    if (!url || typeof fetch === "undefined") return;
    var pane = map.createPane("basemap");
    pane.style.zIndex = 150;  // below the tiles (200) and the markers (400)
    pane.classList.add("leaflet-basemap-pane");
    basemap = basemap || fetch(url).then(function (r) { return r.json(); });
    basemap.then(function (data) {
      L.geoJSON(data, {
        pane: "basemap",
        renderer: L.svg({ pane: "basemap" }),
        interactive: false,
        style: { color: "#9aa79d", weight: 1, fillColor: "#f3f1e7", fillOpacity: 1 },
      }).addTo(map);
    }).catch(function () { /* the markers still show */ });
  }
  function baseMap(el, center, zoom) {
    if (typeof L === "undefined") { el.classList.add("map-unavailable"); return null; }
    var map = L.map(el, { scrollWheelZoom: false }).setView(center, zoom);
    el._leaflet_map = map;  // for other scripts of the page (search: the map's centre)
    drawBasemap(map, el.dataset.basemap);
    if (el.dataset.basemapAttribution) map.attributionControl.addAttribution(el.dataset.basemapAttribution);
    if (el.dataset.tiles) {
      L.tileLayer(el.dataset.tiles, { maxZoom: 18, attribution: el.dataset.attribution || "" }).addTo(map);
    }
    return map;
  }
  function picker(el) {
    var lat = document.getElementById(el.dataset.latInput);
    var lon = document.getElementById(el.dataset.lonInput);
    var start = [parseFloat(lat.value) || 35.6895, parseFloat(lon.value) || 139.6917];
    var map = baseMap(el, start, 11);
    if (!map) return;
    var marker = L.marker(start, { draggable: true }).addTo(map);
    function set(ll) {
      lat.value = ll.lat.toFixed(5); lon.value = ll.lng.toFixed(5); marker.setLatLng(ll);
    }
    map.on("click", function (e) { set(e.latlng); });
    marker.on("dragend", function () { set(marker.getLatLng()); });
    function fromInputs() {
      var a = parseFloat(lat.value), b = parseFloat(lon.value);
      if (!isNaN(a) && !isNaN(b)) { marker.setLatLng([a, b]); map.panTo([a, b]); }
    }
    lat.addEventListener("change", fromInputs); lon.addEventListener("change", fromInputs);
  }
  function pin(el) {
    var ll = [parseFloat(el.dataset.lat), parseFloat(el.dataset.lon)];
    var map = baseMap(el, ll, 12);
    if (map) L.marker(ll).addTo(map);
  }
  function addPoints(map, pts) {
    var bounds = [];
    pts.forEach(function (p) {
      var m = L.circleMarker([p.lat, p.lon], { radius: 6, className: "pt pt-" + p.kind }).addTo(map);
      var a = document.createElement("a");
      a.href = "/listings/" + p.id; a.textContent = p.title;
      m.bindPopup(a);
      bounds.push([p.lat, p.lon]);
    });
    if (bounds.length) map.fitBounds(bounds, { maxZoom: 12, padding: [20, 20] });
  }
  // Points fetched from a JSON endpoint (the listing browser).
  function points(el) {
    var map = baseMap(el, [35.68, 139.69], 8);
    if (!map) return;
    fetch(el.dataset.source, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) { addPoints(map, data.points); })
      .catch(function () { el.classList.add("map-unavailable"); });
  }
  // Points carried in the page itself (search results).
  function inlinePoints(el) {
    var map = baseMap(el, [35.68, 139.69], 8);
    if (map) addPoints(map, JSON.parse(el.dataset.points || "[]"));
  }
  function line(el) {
    var pts = JSON.parse(el.dataset.line);
    var map = baseMap(el, pts[0], 10);
    if (!map) return;
    L.polyline(pts, { color: "#2f6b3a", weight: 4 }).addTo(map);
    pts.forEach(function (p) { L.circleMarker(p, { radius: 6 }).addTo(map); });
    map.fitBounds(pts, { padding: [30, 30] });
  }
  function gradeFilter() {
    document.querySelectorAll("select[data-grade-for]").forEach(function (sel) {
      var material = document.getElementById(sel.dataset.gradeFor);
      if (!material) return;
      function apply() {
        Array.prototype.forEach.call(sel.options, function (o) {
          if (!o.dataset.material) return;
          var show = o.dataset.material === material.value;
          o.hidden = !show; o.disabled = !show;
          if (!show && o.selected) sel.value = "";
        });
      }
      material.addEventListener("change", apply); apply();
    });
  }
  // A recycled lot's form asks only for what the chosen material is judged by.
  function propertyFilter() {
    var material = document.getElementById("material_code");
    var items = document.querySelectorAll("[data-materials]");
    if (!material || !items.length) return;
    function apply() {
      items.forEach(function (item) {
        var show = !material.value || item.dataset.materials.split(" ").indexOf(material.value) >= 0;
        item.hidden = !show;
        item.querySelectorAll("input").forEach(function (input) {
          input.disabled = !show;
        });
      });
    }
    material.addEventListener("change", apply); apply();
  }
  document.querySelectorAll("[data-map]").forEach(function (el) {
    ({ picker: picker, pin: pin, points: points, line: line, "inline-points": inlinePoints })[el.dataset.map](el);
  });
  gradeFilter();
  propertyFilter();
})();
