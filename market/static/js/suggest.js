// Suggestions as people type (from two characters) for the search words and the place,
// from /api/v1/search/suggest in the page's language; and "search around the map's
// centre". Without JavaScript both fields are plain inputs the server understands.
(function () {
  "use strict";
  var form = document.getElementById("search-form");
  if (!form) return;

  function combobox(input) {
    var list = document.getElementById(input.getAttribute("aria-controls"));
    var forPlace = input.dataset.suggestFor === "place";
    var items = [], active = -1, timer = null, asked = "";

    function close() {
      list.hidden = true; list.innerHTML = ""; items = []; active = -1;
      input.setAttribute("aria-expanded", "false"); input.removeAttribute("aria-activedescendant");
    }
    function highlight(n) {
      items.forEach(function (li, i) { li.setAttribute("aria-selected", i === n ? "true" : "false"); });
      active = n;
      if (n >= 0) input.setAttribute("aria-activedescendant", items[n].id);
    }
    function choose(s) {
      if (s.type === "listing" && s.url && !forPlace) { window.location.href = s.url; return; }
      if (s.type === "place") {
        var place = document.getElementById("place");
        place.value = s.text;
        if (!forPlace) input.value = "";
        ["lat", "lon", "site"].forEach(function (id) { var el = document.getElementById(id); if (el) el.value = ""; });
        var sort = document.getElementById("sort"); if (sort) sort.value = "distance";
      } else {
        input.value = s.value;
      }
      close();
      form.submit();
    }
    function show(suggestions) {
      close();
      suggestions.filter(function (s) { return !forPlace || s.type === "place"; }).forEach(function (s, i) {
        var li = document.createElement("li");
        li.id = input.id + "-suggestion-" + i;
        li.setAttribute("role", "option");
        li.className = "suggestion suggestion-" + s.type;
        li.textContent = s.text;
        li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(s); });
        list.appendChild(li);
        li._suggestion = s;
        items.push(li);
      });
      if (items.length) { list.hidden = false; input.setAttribute("aria-expanded", "true"); }
    }
    function ask() {
      var typed = input.value.trim();
      if (typed.length < 2) { close(); return; }
      asked = typed;
      fetch(input.dataset.suggest + "?limit=8&q=" + encodeURIComponent(typed), {
        headers: { Accept: "application/json" }, credentials: "same-origin"
      }).then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
        .then(function (data) { if (asked === typed && input.value.trim() === typed) show(data.suggestions || []); })
        .catch(close);
    }
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(ask, 150); });
    input.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      if (e.key === "ArrowDown") { e.preventDefault(); highlight((active + 1) % items.length); }
      else if (e.key === "ArrowUp") { e.preventDefault(); highlight((active - 1 + items.length) % items.length); }
      else if (e.key === "Enter" && active >= 0) { e.preventDefault(); choose(items[active]._suggestion); }
      else if (e.key === "Escape") { close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
  }
  document.querySelectorAll("input[data-suggest]").forEach(combobox);

  // Around the map's centre: the results map (map.js keeps it on its element).
  var button = document.getElementById("map-centre");
  var mapEl = document.getElementById("search-map");
  if (button && mapEl) {
    var wait = setInterval(function () {
      if (!mapEl._leaflet_map) return;
      clearInterval(wait);
      button.hidden = false;
      button.addEventListener("click", function () {
        var c = mapEl._leaflet_map.getCenter();
        document.getElementById("lat").value = c.lat.toFixed(5);
        document.getElementById("lon").value = c.lng.toFixed(5);
        ["place", "site"].forEach(function (id) { var el = document.getElementById(id); if (el) el.value = ""; });
        var sort = document.getElementById("sort"); if (sort) sort.value = "distance";
        form.submit();
      });
    }, 100);
    setTimeout(function () { clearInterval(wait); }, 10000);
  }
})();
