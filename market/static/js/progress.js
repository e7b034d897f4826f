// Polls a running job's progress and reloads the page when it finishes.
(function () {
  "use strict";
  var box = document.getElementById("run-progress");
  if (!box || box.dataset.status === "done" || box.dataset.status === "failed") return;
  function poll() {
    fetch(box.dataset.url, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        document.getElementById("run-stage").textContent = p.stage || "";
        document.getElementById("run-bar").value = p.progress || 0;
        document.getElementById("run-pct").textContent = Math.round((p.progress || 0) * 100) + "%";
        (p.regions || []).forEach(function (r) {
          var row = document.getElementById("region-" + r.region);
          if (!row) return;
          row.querySelector("progress").value = r.progress;
          row.querySelector(".region-pct").textContent = Math.round(r.progress * 100) + "%";
          row.querySelector(".region-stage").textContent = r.status + (r.stage ? " · " + r.stage : "");
        });
        if (p.status === "done" || p.status === "failed") { window.location.reload(); return; }
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
