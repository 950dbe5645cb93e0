// @mentions (issue 11, point 3): autocomplete in the composer, highlight in messages, and the
// per-thread mention counter of the thread list. No innerHTML: user text only goes through text nodes.
//
// - Thread list: fills li[data-thread-id] .mention-count from the JSON list's mention_count, on load
//   and after each refresh chat.js announces with document "gr:threads".
// - Messages: on "gr:message", every "@name" of the body that names one of message.mentions becomes
//   <mark class="mention">, <mark class="mention mention-me"> when it is you; the row gets
//   class "mentions-me".
// - Composer: typing "@" + letters lists matching members (GET …/mention-candidates?prefix=) in a
//   listbox under the message box; ArrowUp/ArrowDown choose, Enter or Tab insert, Escape closes.
(function () {
  "use strict";

  // -- thread list ------------------------------------------------------------------------------
  function fillCounts(items) {
    (items || []).forEach(function (item) {
      var span = document.querySelector('li[data-thread-id="' + item.thread_id + '"] .mention-count');
      if (!span) return;
      var n = Number(item.mention_count) || 0;
      span.hidden = n === 0;
      span.textContent = n === 0 ? "" : "@" + n;
      span.title = n === 1 ? "1 unread mention of you" : n + " unread mentions of you";
      span.setAttribute("aria-label", span.title);
      span.dataset.count = String(n);
    });
  }
  if (document.querySelector("li[data-thread-id] .mention-count")) {
    document.addEventListener("gr:threads", function (ev) { fillCounts(ev.detail && ev.detail.items); });
    fetch("/v1/chat/threads?limit=200", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(fillCounts)
      .catch(function () {});
  }

  var root = document.getElementById("chat");
  if (!root) return;
  var threadId = root.dataset.threadId;
  var me = root.dataset.userId;
  var api = "/v1/chat/threads/" + threadId + "/mention-candidates";
  var NAME = /(^|[^\w@])@([A-Za-z0-9_.-]{1,64})/g;
  var idByName = {}; // lower-case username -> user_id (members seen so far)
  if (root.dataset.username) idByName[root.dataset.username.toLowerCase()] = me;

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); });
  }
  function learn(members) {
    (members || []).forEach(function (m) { idByName[m.username.toLowerCase()] = m.user_id; });
    return members;
  }

  // -- highlight ----------------------------------------------------------------------------------
  var pendingNames = {};
  function idFor(token) {
    var lower = token.toLowerCase();
    if (idByName[lower]) return { id: idByName[lower], len: token.length };
    var trimmed = lower.replace(/[.-]+$/, "");
    if (trimmed && idByName[trimmed]) return { id: idByName[trimmed], len: trimmed.length };
    return null;
  }

  function highlight(li, m) {
    var body = li.querySelector(".body");
    var mentions = m.mentions || [];
    li.classList.toggle("mentions-me", mentions.indexOf(me) !== -1);
    if (!body || !mentions.length || m.deleted_at_ms || !m.body || li.classList.contains("editing")) return;
    var text = m.body;
    var parts = [];
    var last = 0;
    var unknown = [];
    var match;
    NAME.lastIndex = 0;
    while ((match = NAME.exec(text)) !== null) {
      var at = match.index + match[1].length;
      var found = idFor(match[2]);
      if (!found) { unknown.push(match[2]); continue; }
      if (mentions.indexOf(found.id) === -1) continue;
      parts.push(document.createTextNode(text.slice(last, at)));
      var mark = document.createElement("mark");
      mark.className = found.id === me ? "mention mention-me" : "mention";
      mark.textContent = text.slice(at, at + 1 + found.len);
      parts.push(mark);
      last = at + 1 + found.len;
    }
    if (parts.length) {
      parts.push(document.createTextNode(text.slice(last)));
      body.textContent = "";
      parts.forEach(function (p) { body.appendChild(p); });
    }
    // A mentioned member not seen yet (large thread): look the name up once, then highlight again.
    unknown.forEach(function (name) {
      var key = name.toLowerCase().replace(/[.-]+$/, "");
      if (!key || pendingNames[key]) return;
      pendingNames[key] = true;
      getJson(api + "?limit=50&prefix=" + encodeURIComponent(key)).then(learn).then(function () {
        var again = document.querySelector('li[data-seq="' + m.seq + '"]');
        if (again && again.querySelector(".body") && again.querySelector(".body").textContent === m.body) highlight(again, m);
      }).catch(function () {});
    });
  }

  var early = [];
  var ready = false;
  document.addEventListener("gr:message", function (ev) {
    var d = ev.detail || {};
    if (!d.element || !d.message) return;
    if (ready) highlight(d.element, d.message); else early.push(d);
  });
  getJson(api + "?limit=50").then(learn).catch(function () {}).then(function () {
    ready = true;
    early.forEach(function (d) { if (d.element.isConnected) highlight(d.element, d.message); });
    early = [];
  });

  // -- autocomplete -------------------------------------------------------------------------------
  var input = document.getElementById("composer-body");
  var form = document.getElementById("composer");
  if (!input || !form) return;
  var listbox = document.createElement("ul");
  listbox.id = "mention-list";
  listbox.className = "mention-list";
  listbox.setAttribute("role", "listbox");
  listbox.setAttribute("aria-label", "Members to mention");
  listbox.hidden = true;
  input.insertAdjacentElement("afterend", listbox);
  var hint = document.createElement("span");
  hint.className = "visually-hidden";
  hint.id = "mention-status";
  hint.setAttribute("aria-live", "polite");
  listbox.insertAdjacentElement("afterend", hint);
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", "mention-list");
  var options = [];
  var active = -1;
  var query = null; // {start, prefix}: the "@prefix" before the caret
  var seq = 0;

  function close() {
    listbox.hidden = true;
    listbox.textContent = "";
    options = [];
    active = -1;
    query = null;
    input.removeAttribute("aria-activedescendant");
  }

  function choose(i) {
    active = i;
    options.forEach(function (o, j) { o.el.setAttribute("aria-selected", j === i ? "true" : "false"); });
    if (i >= 0) {
      input.setAttribute("aria-activedescendant", options[i].el.id);
      options[i].el.scrollIntoView({ block: "nearest" });
    } else input.removeAttribute("aria-activedescendant");
  }

  function insert(i) {
    if (!query || !options[i]) return;
    var name = options[i].member.username;
    var before = input.value.slice(0, query.start);
    var after = input.value.slice(input.selectionStart);
    var added = "@" + name + (after.charAt(0) === " " ? "" : " ");
    input.value = before + added + after;
    var caret = before.length + added.length;
    input.setSelectionRange(caret, caret);
    close();
    hint.textContent = "Mentioned " + name;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.focus();
  }

  function show(members) {
    listbox.textContent = "";
    options = members.map(function (member, i) {
      var li = document.createElement("li");
      li.id = "mention-option-" + i;
      li.className = "mention-option";
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.textContent = "@" + member.username + (member.user_id === me ? " (you)" : "");
      li.addEventListener("mousedown", function (ev) { ev.preventDefault(); insert(i); });
      listbox.appendChild(li);
      return { el: li, member: member };
    });
    listbox.hidden = options.length === 0;
    hint.textContent = options.length ? options.length + (options.length === 1 ? " member matches" : " members match") +
      ", use the arrow keys and Enter to choose" : "";
    choose(options.length ? 0 : -1);
  }

  function update() {
    var caret = input.selectionStart;
    if (caret !== input.selectionEnd) { close(); return; }
    var m = /(^|[^\w@])@([A-Za-z0-9_.-]{0,64})$/.exec(input.value.slice(0, caret));
    if (!m) { close(); return; }
    query = { start: caret - m[2].length - 1, prefix: m[2] };
    var mine = ++seq;
    getJson(api + "?limit=8&prefix=" + encodeURIComponent(m[2])).then(function (members) {
      if (mine !== seq || !query) return;
      show(learn(members));
    }).catch(function () { if (mine === seq) close(); });
  }

  input.addEventListener("input", update);
  input.addEventListener("click", update);
  input.addEventListener("blur", function () { setTimeout(close, 150); });
  // Capture phase on the form: runs before chat.js's own keydown on the textarea (Enter sends there).
  form.addEventListener("keydown", function (ev) {
    if (ev.target !== input || listbox.hidden || !options.length) return;
    var handled = true;
    if (ev.key === "ArrowDown") choose((active + 1) % options.length);
    else if (ev.key === "ArrowUp") choose((active - 1 + options.length) % options.length);
    else if ((ev.key === "Enter" && !ev.shiftKey) || ev.key === "Tab") insert(active < 0 ? 0 : active);
    else if (ev.key === "Escape") close();
    else handled = false;
    if (handled) { ev.preventDefault(); ev.stopPropagation(); }
  }, true);
  form.addEventListener("submit", close);
})();
