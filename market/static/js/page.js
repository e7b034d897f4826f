// Every page: the phone menu, and table cells labelled with their column for the
// card layout narrow screens use (app.css, "tables become cards").
(function () {
  "use strict";
  var toggle = document.querySelector(".menu-toggle");
  var nav = document.getElementById("main-nav");
  if (toggle && nav) {
    document.documentElement.classList.add("has-menu");
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      nav.classList.toggle("open", open);
    });
  }
  // Long tables behind a chart fold away on a phone; a wide screen shows them open.
  if (window.matchMedia("(min-width: 761px)").matches) {
    document.querySelectorAll("details.figures").forEach(function (d) { d.open = true; });
  }
  document.querySelectorAll("table").forEach(function (table) {
    var heads = table.querySelectorAll("thead th");
    if (!heads.length) { return; }
    table.classList.add("labelled");
    table.querySelectorAll("tbody tr").forEach(function (row) {
      Array.prototype.forEach.call(row.children, function (cell, i) {
        var head = heads[i];
        if (head && !cell.hasAttribute("data-label") && cell.getAttribute("colspan") === null) {
          cell.setAttribute("data-label", head.textContent.trim());
        }
      });
    });
  });
})();
