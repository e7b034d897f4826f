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
        if (p.status === "done" || p.status === "failed") { window.location.reload(); return; }
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
