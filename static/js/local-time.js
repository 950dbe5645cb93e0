// Every <time datetime="…" data-local-time="datetime|date"> on the page shows the reader's own local
// time. The server renders a readable UTC fallback; this rewrites it (and keeps the exact UTC moment in
// the title). Loaded by base.html on every page; pages that add times later call
// window.GotongLocalTime.render(element).
(function () {
  "use strict";
  var withTime = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"
  });
  var dayOnly = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });

  function render(root) {
    (root || document).querySelectorAll("time[data-local-time]").forEach(function (el) {
      var moment = new Date(el.getAttribute("datetime"));
      if (isNaN(moment.getTime())) return;
      el.textContent = (el.dataset.localTime === "date" ? dayOnly : withTime).format(moment);
      if (!el.title) el.title = moment.toUTCString();
      el.dataset.localised = "1";
    });
  }
  window.GotongLocalTime = { render: render };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { render(); });
  else render();
})();
