// Typing indicator (issue 11, point 3). Ephemeral: nothing is stored on the server.
// Sending: while the member types in #composer-body, POST /v1/chat/threads/{id}/typing at most once
// every 3 s (the server throttles the same way). Receiving: "typing" stream events arrive through
// chat.js as document "gr:stream-event"; each shows "<name> is typing…" in #typing (aria-live polite)
// for the event's expires_in_ms (5 s), and goes away at once when that person's message arrives.
// Polling clients get no typing events (only WebSocket and SSE streams carry them).
(function () {
  "use strict";
  var root = document.getElementById("chat");
  var box = document.getElementById("typing");
  var input = document.getElementById("composer-body");
  if (!root || !box) return;
  var threadId = root.dataset.threadId;
  var me = root.dataset.userId;
  var SEND_EVERY_MS = 3000;
  var lastSent = 0;
  var typers = {}; // user_id -> {name, until}
  var timer = null;

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : null;
  }

  if (input) {
    input.addEventListener("input", function () {
      var now = Date.now();
      if (!input.value.trim() || now - lastSent < SEND_EVERY_MS) return;
      lastSent = now;
      fetch("/v1/chat/threads/" + threadId + "/typing", {
        method: "POST", credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRFToken": cookie("csrftoken") || root.dataset.csrf || "" }
      }).catch(function () { /* best effort: a lost indicator costs nothing */ });
    });
  }

  function show() {
    var now = Date.now();
    var names = [];
    var next = Infinity;
    Object.keys(typers).forEach(function (id) {
      if (typers[id].until <= now) { delete typers[id]; return; }
      names.push(typers[id].name);
      next = Math.min(next, typers[id].until);
    });
    names.sort();
    var text = "";
    if (names.length === 1) text = names[0] + " is typing…";
    else if (names.length === 2) text = names[0] + " and " + names[1] + " are typing…";
    else if (names.length > 2) text = "Several people are typing…";
    if (box.textContent !== text) box.textContent = text;
    box.dataset.typing = names.join(",");
    if (timer) { clearTimeout(timer); timer = null; }
    if (next !== Infinity) timer = setTimeout(show, Math.max(50, next - now));
  }

  document.addEventListener("gr:stream-event", function (ev) {
    var env = ev.detail;
    if (!env || env.event_type !== "typing" || !env.data || env.data.user_id === me) return;
    var ms = Math.min(Number(env.data.expires_in_ms) || 5000, 15000);
    typers[env.data.user_id] = { name: env.data.username || "Someone", until: Date.now() + ms };
    show();
  });

  // Their message arrived: they stopped typing.
  document.addEventListener("gr:message", function (ev) {
    var m = ev.detail && ev.detail.message;
    if (m && typers[m.author_id]) { delete typers[m.author_id]; show(); }
  });
})();
