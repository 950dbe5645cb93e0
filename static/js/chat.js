// Chat pages (templates/chat/): the thread list, Discover, members and one thread. No build step, no
// inline script (CSP script-src 'self'); user text only ever goes through textContent.
//
// Thread page: latest messages, scroll-back that keeps the scroll position, idempotent sends (one
// X-Request-ID per message, reused on retry), edit/delete/report, live updates.
// Transport ladder (03-chat.md): WebSocket (5 s connect timeout) -> SSE -> polling every 5 s; while
// degraded, try to upgrade every 30 s. Every transition is reported to /v1/chat/telemetry. Messages
// are deduplicated by seq, so overlapping transports never show one twice.
//
// Contract with the mentions/search/typing scripts (keep stable):
// - every message is li[data-message-id][data-seq] with a .body element; after (re-)rendering one we
//   dispatch document "gr:message" {detail: {element, message}};
// - every stream event this file does not handle is re-dispatched as document "gr:stream-event";
// - the composer is form#composer with textarea#composer-body;
// - thread list rows are li[data-thread-id] with an empty span.mention-count; after each refresh of
//   the list we dispatch document "gr:threads" {detail: {items}} (the JSON thread list items).
(function () {
  "use strict";

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : null;
  }

  // Plain POST forms (join, create, invite, mute, remove, leave): one submit only, and the current
  // CSRF cookie (a page left open for long keeps working).
  document.querySelectorAll("form.once").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (form.dataset.sent === "1") { ev.preventDefault(); return; }
      form.dataset.sent = "1";
      var token = cookie("csrftoken");
      var field = form.querySelector("input[name=csrfmiddlewaretoken]");
      if (token && field) field.value = token;
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.setAttribute("aria-disabled", "true"); });
    });
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form.once").forEach(function (form) {
      form.dataset.sent = "";
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.removeAttribute("aria-disabled"); });
    });
  });

  function localTime(el) { if (window.GotongLocalTime) window.GotongLocalTime.render(el); }

  function timeElement(ms) {
    var t = document.createElement("time");
    t.setAttribute("datetime", new Date(ms).toISOString());
    t.dataset.localTime = "datetime";
    t.textContent = new Date(ms).toUTCString();
    return t;
  }

  // -- thread list: polled (see docs/ui.md), paused while the tab is hidden ---------------------------
  var threadList = document.getElementById("thread-list");
  if (threadList) {
    var LIST_POLL_MS = 4000;
    var listTimer = null;

    var setText = function (el, text) { if (el && el.textContent !== text) el.textContent = text; };

    var newRow = function (item) {
      var li = document.createElement("li");
      li.className = "thread-item";
      li.dataset.threadId = item.thread_id;
      var line = document.createElement("div");
      line.className = "thread-line";
      var a = document.createElement("a");
      a.className = "thread-link";
      a.href = "/threads/" + encodeURIComponent(item.thread_id);
      var unread = document.createElement("span");
      unread.className = "unread";
      unread.hidden = true;
      var mentions = document.createElement("span");
      mentions.className = "mention-count";
      mentions.hidden = true;
      line.appendChild(a); line.appendChild(document.createTextNode(" ")); line.appendChild(unread);
      line.appendChild(document.createTextNode(" ")); line.appendChild(mentions);
      var meta = document.createElement("div");
      meta.className = "thread-meta";
      ["privacy", "members", "activity"].forEach(function (cls, i) {
        if (i) meta.appendChild(document.createTextNode(" · "));
        var span = document.createElement("span");
        span.className = cls;
        meta.appendChild(span);
      });
      var last = document.createElement("div");
      last.className = "thread-last";
      li.appendChild(line); li.appendChild(meta); li.appendChild(last);
      return li;
    };

    var updateRow = function (li, item) {
      setText(li.querySelector(".thread-link"), item.title || "(untitled)");
      var unread = li.querySelector(".unread");
      unread.hidden = !item.unread_count;
      setText(unread, item.unread_count ? item.unread_count + " unread" : "");
      li.dataset.unread = String(item.unread_count);
      setText(li.querySelector(".privacy"), item.privacy_level === "private" ? "Private" : "Public");
      setText(li.querySelector(".members"), item.member_count + (item.member_count === 1 ? " member" : " members"));
      if (li.dataset.lastActivity !== String(item.last_activity_ms)) {
        li.dataset.lastActivity = String(item.last_activity_ms);
        var activity = li.querySelector(".activity");
        activity.textContent = "last activity ";
        var t = timeElement(item.last_activity_ms);
        activity.appendChild(t);
        localTime(activity);
      }
      var last = li.querySelector(".thread-last");
      var m = item.last_message;
      var text = "";
      if (m) {
        text = m.deleted_at_ms ? "(deleted)" : (m.body || (m.moderation_status ? "(hidden by a moderator)" : ""));
        if (text.length > 80) text = text.slice(0, 79) + "…";
      }
      var key = m ? m.message_id + ":" + text : "";
      if (last.dataset.key !== key) {
        last.dataset.key = key;
        last.textContent = "";
        if (m) {
          var who = document.createElement("span");
          who.className = "who";
          who.textContent = (m.author && m.author.username) || m.author_id;
          var body = document.createElement("span");
          body.className = "text";
          body.textContent = text;
          last.appendChild(who); last.appendChild(document.createTextNode(": ")); last.appendChild(body);
        }
      }
    };

    var refreshList = function () {
      return fetch("/v1/chat/threads?limit=200", { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (items) {
          if (!items) return;
          var rows = {};
          threadList.querySelectorAll("li[data-thread-id]").forEach(function (li) { rows[li.dataset.threadId] = li; });
          var wanted = items.map(function (item) {
            var li = rows[item.thread_id] || newRow(item);
            delete rows[item.thread_id];
            updateRow(li, item);
            return li;
          });
          Object.keys(rows).forEach(function (id) { rows[id].remove(); }); // left or removed elsewhere
          // Move only what is out of place, so focus and hover stay where they are.
          wanted.forEach(function (li, i) {
            if (threadList.children[i] !== li) threadList.insertBefore(li, threadList.children[i] || null);
          });
          threadList.dataset.refreshed = String(Date.now());
          document.dispatchEvent(new CustomEvent("gr:threads", { detail: { items: items } }));
        }).catch(function () { /* offline for a moment: the next tick tries again */ });
    };

    var schedule = function () {
      if (listTimer) { clearInterval(listTimer); listTimer = null; }
      if (document.visibilityState === "hidden") return;
      listTimer = setInterval(refreshList, LIST_POLL_MS);
    };
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") refreshList();
      schedule();
    });
    schedule();
  }

  // -- one thread -------------------------------------------------------------------------------------
  var root = document.getElementById("chat");
  if (!root) return;
  var CFG = { wsTimeoutMs: 5000, pollMs: 5000, upgradeMs: 30000, pageSize: 50, bodyMax: 2000, noteMax: 500,
    editWindowMs: 24 * 3600 * 1000 };
  var HIDDEN_STATUSES = { under_review: true, rejected: true };
  var threadId = root.dataset.threadId;
  var me = root.dataset.userId;
  var iAmModerator = root.dataset.moderator === "1";
  var api = "/v1/chat/threads/" + threadId;
  var list = document.getElementById("chat-messages");
  var statusEl = document.getElementById("chat-status");
  var errorEl = document.getElementById("chat-error");
  var form = document.getElementById("composer");
  var bodyEl = document.getElementById("composer-body");
  var sendBtn = document.getElementById("composer-send");
  var olderBtn = document.getElementById("chat-older");
  var fileEl = document.getElementById("composer-file");
  var fileName = document.getElementById("composer-file-name");
  var bySeq = {};
  var messages = {};
  var lastSeq = 0;
  var firstSeq = null;
  var transport = null;
  var ws = null, es = null, pollTimer = null, upgradeTimer = null, stopped = false;
  var pending = null; // {body, file, requestId}: one X-Request-ID per message, reused on retry
  var sending = false;
  var STREAM_TYPES = ["message", "message_updated", "message_deleted", "message_hidden", "message_restored", "closed",
    "member_joined", "member_left", "read_cursor", "typing", "ping", "error"];
  var HANDLED = { message: 1, message_updated: 1, message_deleted: 1, message_hidden: 1, message_restored: 1, closed: 1 };

  function csrf() { return cookie("csrftoken") || root.dataset.csrf; }
  function setStatus(text) { statusEl.textContent = text; root.dataset.transport = transport || ""; }
  function number(n) { return n.toLocaleString(); }

  // -- times: "just now" / "3 min ago" / "14:05" today, the clock time on other days (the day is in the
  // separator); the full local date and time in the tooltip.
  var clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  var full = new Intl.DateTimeFormat(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric",
    hour: "2-digit", minute: "2-digit" });
  var dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });

  function dayKey(ms) { var d = new Date(ms); return d.getFullYear() + "-" + d.getMonth() + "-" + d.getDate(); }
  function dayLabel(ms) {
    var today = new Date();
    if (dayKey(ms) === dayKey(today.getTime())) return "Today";
    var y = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    if (dayKey(ms) === dayKey(y.getTime())) return "Yesterday";
    return dayFormat.format(new Date(ms));
  }
  function relative(ms) {
    var age = Date.now() - ms;
    if (dayKey(ms) === dayKey(Date.now())) {
      if (age < 60000) return "just now";
      if (age < 3600000) return Math.floor(age / 60000) + " min ago";
    }
    return clock.format(new Date(ms));
  }
  function stamp(el, ms) {
    el.setAttribute("datetime", new Date(ms).toISOString());
    el.title = full.format(new Date(ms));
    el.textContent = relative(ms);
  }
  setInterval(function () {
    list.querySelectorAll("time.when").forEach(function (t) { t.textContent = relative(Number(t.dataset.ms)); });
  }, 30000);

  function separators() {
    list.querySelectorAll("li.day-separator").forEach(function (li) { li.remove(); });
    var previous = null;
    list.querySelectorAll("li[data-seq]").forEach(function (li) {
      var ms = Number(li.dataset.createdAt);
      var key = dayKey(ms);
      if (key !== previous) {
        var sep = document.createElement("li");
        sep.className = "day-separator";
        var span = document.createElement("span");
        span.textContent = dayLabel(ms);
        sep.appendChild(span);
        list.insertBefore(sep, li);
        previous = key;
      }
    });
  }

  // -- rendering ---------------------------------------------------------------------------------------
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function button(text, cls, onClick, label) {
    var b = el("button", cls, text);
    b.type = "button";
    if (label) b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }

  function skeleton(m) {
    var li = el("li", "chat-message");
    li.dataset.seq = m.seq;
    li.dataset.messageId = m.message_id;
    li.id = "m-" + m.seq;
    var meta = el("div", "meta");
    meta.appendChild(el("span", "author"));
    var when = el("time", "when");
    meta.appendChild(when);
    meta.appendChild(el("span", "marks"));
    var more = button("⋯", "more", function () { toggleActions(li); });
    more.setAttribute("aria-expanded", "false");
    meta.appendChild(more);
    li.appendChild(meta);
    li.appendChild(el("div", "body"));
    li.appendChild(el("div", "attachments"));
    li.appendChild(el("p", "status"));
    var actions = el("div", "actions");
    actions.hidden = true;
    li.appendChild(actions);
    return li;
  }

  function render(m) {
    var li = bySeq[m.seq];
    var fresh = !li;
    if (fresh) {
      li = skeleton(m);
      var next = null;
      var rows = list.querySelectorAll("li[data-seq]");
      for (var i = 0; i < rows.length; i++) {
        if (Number(rows[i].dataset.seq) > m.seq) { next = rows[i]; break; }
      }
      if (next && next.previousElementSibling && next.previousElementSibling.classList.contains("day-separator")) {
        next = next.previousElementSibling;
      }
      list.insertBefore(li, next);
      bySeq[m.seq] = li;
    }
    messages[m.seq] = m;
    li.dataset.createdAt = m.created_at_ms;
    var mine = m.author_id === me;
    var deleted = !!m.deleted_at_ms;
    var held = !deleted && HIDDEN_STATUSES[m.moderation_status] === true;
    var blanked = held && !m.body;
    li.classList.toggle("own", mine);
    li.classList.toggle("deleted", deleted);
    li.classList.toggle("held", held);
    li.classList.toggle("hidden-by-moderator", blanked);
    var name = (m.author && m.author.username) || m.author_id;
    li.querySelector(".author").textContent = name;
    var when = li.querySelector(".when");
    when.dataset.ms = m.created_at_ms;
    stamp(when, m.created_at_ms);
    li.querySelector(".more").setAttribute("aria-label", "Actions for the message by " + name + " at " +
      clock.format(new Date(m.created_at_ms)));
    var marks = li.querySelector(".marks");
    marks.textContent = "";
    if (deleted) marks.appendChild(el("span", "mark mark-deleted", "deleted"));
    else if (m.edited_at_ms) {
      var edited = el("span", "mark mark-edited", "edited");
      edited.title = "Edited " + full.format(new Date(m.edited_at_ms));
      marks.appendChild(edited);
    }
    var body = li.querySelector(".body");
    if (!li.classList.contains("editing")) {
      body.textContent = deleted ? "This message was deleted." : blanked ? "Hidden by a moderator" : m.body;
    }
    var status = li.querySelector(".status");
    status.textContent = "";
    if (held && !blanked) {
      status.textContent = m.moderation_status === "rejected"
        ? (mine ? "Removed by a moderator: only you and moderators can see it." : "Removed by a moderator.")
        : (mine ? "Held for review by a moderator: only you and moderators can see it for now."
          : "Held for review by a moderator.");
    }
    status.hidden = !status.textContent;
    renderAttachments(li.querySelector(".attachments"), m.attachments || []);
    li.querySelector(".more").hidden = deleted;
    if (!li.querySelector(".actions").hidden) fillActions(li);
    if (m.seq > lastSeq) lastSeq = m.seq;
    if (firstSeq === null || m.seq < firstSeq) firstSeq = m.seq;
    document.dispatchEvent(new CustomEvent("gr:message", { detail: { element: li, message: m } }));
    return fresh;
  }

  // Images inline, everything else as a link; the URLs are signed by the server (no auth needed).
  function renderAttachments(box, items) {
    box.textContent = "";
    items.forEach(function (a) {
      var link = document.createElement("a");
      link.href = a.url;
      link.target = "_blank";
      link.rel = "noopener";
      link.className = "attachment attachment-" + a.media_type;
      if (a.media_type === "image") {
        var img = document.createElement("img");
        img.src = a.url;
        img.alt = a.file_name;
        img.loading = "lazy";
        link.appendChild(img);
      } else {
        link.textContent = a.file_name + " (" + Math.ceil(a.size_bytes / 1024) + " KiB)";
      }
      box.appendChild(link);
    });
  }

  function nearBottom() { return list.scrollHeight - list.scrollTop - list.clientHeight < 80; }

  function addMessages(items, scroll) {
    var follow = scroll === true || (scroll === "auto" && nearBottom());
    var added = false;
    items.forEach(function (m) { if (render(m)) added = true; });
    if (added) separators();
    if (follow) list.scrollTop = list.scrollHeight;
    if (items.length) markRead();
    updateOlder();
  }

  function updateOlder() {
    var none = firstSeq === null || firstSeq <= 1;
    olderBtn.disabled = none;
    olderBtn.textContent = none ? "No older messages" : "Load older messages";
  }

  // -- actions on one message: a "⋯" button opens Edit/Delete (own) or Report (others) ----------------
  function toggleActions(li) {
    var box = li.querySelector(".actions");
    var open = box.hidden;
    list.querySelectorAll(".actions:not([hidden])").forEach(function (other) {
      if (other !== box) { other.hidden = true; other.closest("li").querySelector(".more").setAttribute("aria-expanded", "false"); }
    });
    box.hidden = !open;
    li.querySelector(".more").setAttribute("aria-expanded", String(open));
    if (open) { fillActions(li); var first = box.querySelector("button"); if (first) first.focus(); }
  }

  function closeActions(li) {
    li.querySelector(".actions").hidden = true;
    li.querySelector(".more").setAttribute("aria-expanded", "false");
  }

  function fillActions(li) {
    var m = messages[li.dataset.seq];
    var box = li.querySelector(".actions");
    box.textContent = "";
    if (!m || m.deleted_at_ms) return;
    if (m.author_id === me) {
      if (Date.now() - m.created_at_ms < CFG.editWindowMs) box.appendChild(button("Edit", "secondary edit", function () { startEdit(li); }));
      box.appendChild(button("Delete", "danger delete", function () { confirmDelete(li); }));
    } else {
      box.appendChild(button("Report", "secondary report", function () { openReport(li); }));
    }
    box.appendChild(button("Close", "secondary close", function () { closeActions(li); li.querySelector(".more").focus(); }));
  }

  function lengthProblem(text) {
    if (!text.trim()) return "Type a message first: it is empty.";
    if (text.trim().length > CFG.bodyMax) {
      return "Too long: " + number(text.trim().length) + " characters. The limit is " + number(CFG.bodyMax) +
        "; shorten it and try again (your text is kept).";
    }
    return null;
  }

  function startEdit(li) {
    var m = messages[li.dataset.seq];
    closeActions(li);
    li.classList.add("editing");
    var body = li.querySelector(".body");
    var box = el("form", "edit-form");
    box.noValidate = true;
    var id = "edit-" + m.seq;
    var label = el("label", "visually-hidden", "Edit your message");
    label.htmlFor = id;
    var area = el("textarea");
    area.id = id;
    area.rows = 3;
    area.value = m.body;
    var problem = el("p", "field-error edit-error");
    problem.setAttribute("role", "alert");
    var save = el("button", "save", "Save");
    save.type = "submit";
    var cancel = button("Cancel", "secondary cancel", function () { finishEdit(li); });
    var row = el("div", "edit-actions");
    row.appendChild(save); row.appendChild(cancel);
    box.appendChild(label); box.appendChild(area); box.appendChild(row); box.appendChild(problem);
    body.hidden = true;
    body.parentNode.insertBefore(box, body.nextSibling);
    area.focus();
    area.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { ev.preventDefault(); finishEdit(li); } });
    var busy = false;
    box.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (busy) return;
      var text = area.value;
      var why = lengthProblem(text);
      if (why) { problem.textContent = why; area.setAttribute("aria-invalid", "true"); area.focus(); return; }
      busy = true;
      save.setAttribute("aria-disabled", "true");
      request("PATCH", api + "/messages/" + m.message_id, { body: text.trim() }).then(function (updated) {
        finishEdit(li);
        render(updated);
      }).catch(function (e) {
        problem.textContent = "Not saved: " + explain(e) + " Your text is kept.";
      }).then(function () { busy = false; save.removeAttribute("aria-disabled"); });
    });
  }

  function finishEdit(li) {
    li.classList.remove("editing");
    var box = li.querySelector(".edit-form");
    if (box) box.remove();
    var body = li.querySelector(".body");
    body.hidden = false;
    render(messages[li.dataset.seq]);
    li.querySelector(".more").focus();
  }

  function confirmDelete(li) {
    var m = messages[li.dataset.seq];
    var box = li.querySelector(".actions");
    box.textContent = "";
    box.appendChild(el("span", "confirm-text", "Delete this message for everyone?"));
    var busy = false;
    var yes = button("Yes, delete", "danger confirm-delete", function () {
      if (busy) return;
      busy = true;
      yes.setAttribute("aria-disabled", "true");
      request("DELETE", api + "/messages/" + m.message_id).then(function () {
        closeActions(li);
        var gone = Object.assign({}, m, { body: "", attachments: [], deleted_at_ms: Date.now() });
        render(gone);
        list.focus();
      }).catch(function (e) {
        busy = false;
        yes.removeAttribute("aria-disabled");
        errorEl.textContent = "Not deleted: " + explain(e);
      });
    });
    box.appendChild(yes);
    box.appendChild(button("Keep it", "secondary", function () { fillActions(li); }));
    yes.focus();
  }

  // -- report ------------------------------------------------------------------------------------------
  var dialog = document.getElementById("report-dialog");
  var reportForm = document.getElementById("report-form");
  var reportReason = document.getElementById("report-reason");
  var reportNote = document.getElementById("report-note");
  var reportError = document.getElementById("report-error");
  var reportSend = document.getElementById("report-send");
  var reportTarget = null;
  var reporting = false;

  function openReport(li) {
    reportTarget = li;
    closeActions(li);
    var m = messages[li.dataset.seq];
    var quote = (m.body || "").slice(0, 140);
    document.getElementById("report-quote").textContent =
      ((m.author && m.author.username) || "") + ": " + quote + (m.body && m.body.length > 140 ? "…" : "");
    reportError.textContent = "";
    reportReason.removeAttribute("aria-invalid");
    dialog.showModal();
    reportReason.focus();
  }

  document.getElementById("report-cancel").addEventListener("click", function () { dialog.close(); });
  dialog.addEventListener("close", function () {
    if (reportTarget) { var more = reportTarget.querySelector(".more"); if (more) more.focus(); }
  });
  reportForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (reporting || !reportTarget) return;
    var m = messages[reportTarget.dataset.seq];
    if (!reportReason.value) {
      reportError.textContent = "Choose a reason.";
      reportReason.setAttribute("aria-invalid", "true");
      reportReason.focus();
      return;
    }
    if (reportNote.value.length > CFG.noteMax) {
      reportError.textContent = "Keep the note to " + CFG.noteMax + " characters (it has " + number(reportNote.value.length) + ").";
      reportNote.focus();
      return;
    }
    reporting = true;
    reportSend.setAttribute("aria-disabled", "true");
    var target = reportTarget;
    request("POST", "/v1/reports", { content_type: "chat_message", content_id: m.message_id, reason: reportReason.value,
      note: reportNote.value.trim() || null }).then(function () {
      reported(target, "You reported this message. A moderator will look at it.");
    }).catch(function (e) {
      if (e.status === 409) { reported(target, "You have already reported this message."); return; }
      reportError.textContent = "Not sent: " + explain(e);
    }).then(function () { reporting = false; reportSend.removeAttribute("aria-disabled"); });
  });

  function reported(li, text) {
    reportForm.reset();
    dialog.close();
    var note = li.querySelector(".reported") || el("p", "reported");
    note.textContent = text;
    note.setAttribute("role", "status");
    li.appendChild(note);
  }

  // -- HTTP --------------------------------------------------------------------------------------------
  function request(method, url, body, headers) {
    var h = { "Accept": "application/json" };
    if (method !== "GET") h["X-CSRFToken"] = csrf();
    if (body !== undefined) h["Content-Type"] = "application/json";
    Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
    return fetch(url, { method: method, credentials: "same-origin", headers: h,
      body: body === undefined ? undefined : JSON.stringify(body) }).then(function (r) {
      if (r.status === 204) return null;
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          var e = new Error((data.error && data.error.message) || r.statusText || ("HTTP " + r.status));
          e.status = r.status;
          e.details = data.error && data.error.details;
          throw e;
        }
        return data;
      });
    });
  }

  // A sentence for a failed request, in plain words.
  function explain(e) {
    if (!e.status) return "no connection to the server.";
    if (e.status === 403 && /csrf/i.test(e.message)) return "the page's security token is out of date; reload the page.";
    if (e.status === 403 && e.details && e.details.reason === "muted") {
      return "you are muted in this thread until " + clock.format(new Date(e.details.mute_until_ms)) + ".";
    }
    if (e.status === 401) return "you are signed out; sign in again in another tab.";
    if (e.status === 429) return "too many messages at once; wait a moment.";
    if (e.status >= 500) return "the server had a problem.";
    return e.message.charAt(0).toUpperCase() + e.message.slice(1) + ".";
  }

  var readTimer = null;
  var readSeq = 0;
  function sendRead(keepalive) {
    if (lastSeq <= readSeq) return;
    readSeq = lastSeq;
    fetch(api + "/read-cursor", { method: "POST", credentials: "same-origin", keepalive: !!keepalive,
      headers: { "Accept": "application/json", "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ seq: lastSeq }) }).catch(function () { readSeq = 0; });
  }
  function markRead() {
    if (readTimer || document.visibilityState === "hidden") return;
    readTimer = setTimeout(function () { readTimer = null; sendRead(false); }, 500);
  }
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible") markRead(); });
  // Leaving the page right after a message arrived: the cursor still moves (the thread list is right).
  window.addEventListener("pagehide", function () {
    if (readTimer) { clearTimeout(readTimer); readTimer = null; sendRead(true); }
  });

  function upload(file) {
    var data = new FormData();
    data.append("file", file, file.name);
    return fetch("/v1/chat/attachments/upload", { method: "POST", credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": csrf() }, body: data }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (out) {
        if (!r.ok) { var e = new Error((out.error && out.error.message) || r.statusText); e.status = r.status; throw e; }
        return out;
      });
    });
  }

  // -- streams -----------------------------------------------------------------------------------------
  function report(from, to, reason) {
    request("POST", "/v1/chat/telemetry", { from: from || to, to: to, reason: reason }).catch(function () {});
  }

  function handle(env) {
    if (!env || !env.event_type) return;
    if (!HANDLED[env.event_type]) {
      document.dispatchEvent(new CustomEvent("gr:stream-event", { detail: env }));
      return;
    }
    if (env.event_type === "closed") {
      stopped = true;
      closeAll();
      setStatus(env.data && env.data.reason === "unauthorized" ? "signed out" : "you no longer have access");
      return;
    }
    if (env.message) addMessages([env.message], env.message.author_id === me ? true : "auto");
  }

  function closeAll() {
    if (ws) { ws.onclose = null; ws.onerror = null; try { ws.close(); } catch (e) { /* closing anyway */ } ws = null; }
    if (es) { es.close(); es = null; }
    if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
  }

  function switchTo(next, reason) {
    var previous = transport;
    if (previous !== next && !(previous === null && next === "websocket")) report(previous || "websocket", next, reason);
    transport = next;
    root.dataset.transportReason = reason;
    setStatus(next === "websocket" ? "live" : next === "sse" ? "live (SSE)" : "polling");
    if (upgradeTimer) { clearInterval(upgradeTimer); upgradeTimer = null; }
    if (next !== "websocket") upgradeTimer = setInterval(tryUpgrade, CFG.upgradeMs);
  }

  function connectWebSocket(onFail) {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var opened = false, failed = false;
    var socket;
    function fail(reason) { if (failed || opened) return; failed = true; try { socket.close(); } catch (e) { /* ignore */ } onFail(reason); }
    try {
      socket = new WebSocket(scheme + location.host + "/ws/chat/" + threadId + "/?after_seq=" + lastSeq);
    } catch (e) { failed = true; onFail("ws_error"); return; }
    var timer = setTimeout(function () { fail("ws_timeout"); }, CFG.wsTimeoutMs);
    socket.onopen = function () {
      clearTimeout(timer);
      if (failed) return;
      opened = true;
      closeAll();
      ws = socket;
      switchTo("websocket", "upgrade");
    };
    socket.onmessage = function (e) { try { handle(JSON.parse(e.data)); } catch (err) { /* ignore bad frame */ } };
    socket.onerror = function () { clearTimeout(timer); fail("ws_error"); };
    socket.onclose = function (e) {
      clearTimeout(timer);
      if (!opened) { fail("ws_error"); return; }
      if (ws !== socket || stopped) return;
      ws = null;
      if (e.code === 4001 || e.code === 4003) { stopped = true; setStatus("you no longer have access"); return; }
      startSse("ws_closed");
    };
  }

  function startSse(reason) {
    if (stopped) return;
    if (typeof EventSource === "undefined") { startPolling(reason); return; }
    var source;
    try {
      source = new EventSource(api + "/messages/stream?after_seq=" + lastSeq);
    } catch (e) { startPolling("sse_error"); return; }
    var opened = false;
    source.onopen = function () { opened = true; if (es !== source) { closeAll(); es = source; } switchTo("sse", reason); };
    STREAM_TYPES.forEach(function (t) {
      source.addEventListener(t, function (e) { try { handle(JSON.parse(e.data)); } catch (err) { /* ignore */ } });
    });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED || !opened) {
        source.close();
        if (es === source) es = null;
        if (!stopped && transport !== "polling") startPolling(opened ? "sse_closed" : "sse_error");
      }
    };
    es = source;
  }

  function poll() {
    return request("GET", api + "/messages/poll?after_seq=" + lastSeq + "&limit=200").then(function (items) {
      addMessages(items, "auto");
    }).catch(function (e) { if (e.status === 403 || e.status === 404) { stopped = true; closeAll(); setStatus("you no longer have access"); } });
  }

  function startPolling(reason) {
    if (stopped) return;
    closeAll();
    switchTo("polling", reason);
    poll();
    pollTimer = setInterval(poll, CFG.pollMs);
  }

  function tryUpgrade() {
    if (stopped || transport === "websocket") return;
    connectWebSocket(function () { /* stay on the current fallback */ });
  }

  // -- composer ----------------------------------------------------------------------------------------
  function showProblem(text) {
    errorEl.textContent = text;
    if (text) bodyEl.setAttribute("aria-invalid", "true"); else bodyEl.removeAttribute("aria-invalid");
  }

  function setSending(on) {
    sending = on;
    if (on) { sendBtn.setAttribute("aria-disabled", "true"); sendBtn.textContent = "Sending…"; }
    else { sendBtn.removeAttribute("aria-disabled"); sendBtn.textContent = "Send"; }
  }

  function send(message) {
    showProblem("");
    setSending(true);
    // The upload happens once per pending message; a retry re-sends the same attachment ids.
    var ready = message.attachments ? Promise.resolve(message.attachments)
      : message.file ? upload(message.file).then(function (a) { message.attachments = [{ attachment_id: a.attachment_id }]; return message.attachments; })
      : Promise.resolve([]);
    return ready.then(function (attachments) {
      return request("POST", api + "/messages/send", { body: message.body, attachments: attachments },
        { "X-Request-ID": message.requestId });
    }).then(function (m) {
      pending = null;
      if (bodyEl.value.trim() === message.body) bodyEl.value = "";
      fileEl.value = "";
      fileName.textContent = "";
      addMessages([m], true);
    }).catch(function (e) {
      var retry = !e.status || e.status >= 500 || e.status === 429 || e.status === 409;
      if (!retry) pending = null; // the same text would be refused again: a fresh request id next time
      showProblem("Not sent: " + explain(e) + (retry ? " Your message is kept; press Send to try again."
        : " Your message is kept."));
    }).then(function () { setSending(false); });
  }

  function newRequestId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + "-" + Math.random().toString(16).slice(2);
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (sending) return; // a double click sends once
    var file = fileEl.files && fileEl.files[0] || null;
    var raw = bodyEl.value;
    if (!raw.trim() && file) raw = file.name;
    var why = lengthProblem(raw);
    if (why) { showProblem(why); bodyEl.focus(); return; }
    var text = raw.trim();
    if (!pending || pending.body !== text || pending.file !== file) pending = { body: text, file: file, requestId: newRequestId() };
    send(pending);
  });
  bodyEl.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && !ev.defaultPrevented) { ev.preventDefault(); form.requestSubmit(); }
  });
  bodyEl.addEventListener("input", function () {
    if (errorEl.textContent && !lengthProblem(bodyEl.value)) showProblem("");
  });
  fileEl.addEventListener("change", function () {
    fileName.textContent = fileEl.files && fileEl.files[0] ? fileEl.files[0].name : "";
  });

  olderBtn.addEventListener("click", function () {
    if (olderBtn.disabled || firstSeq === null || firstSeq <= 1) { updateOlder(); return; }
    if (olderBtn.getAttribute("aria-busy") === "true") return;
    olderBtn.setAttribute("aria-busy", "true");
    var fromBottom = list.scrollHeight - list.scrollTop;
    request("GET", api + "/messages?before_seq=" + firstSeq + "&limit=" + CFG.pageSize).then(function (items) {
      addMessages(items, false);
      list.scrollTop = list.scrollHeight - fromBottom; // the message that was on screen stays there
    }).catch(function (e) { showProblem("Could not load older messages: " + explain(e)); })
      .then(function () { olderBtn.removeAttribute("aria-busy"); updateOlder(); });
  });

  request("GET", api + "/messages?limit=" + CFG.pageSize).then(function (items) {
    addMessages(items, true);
    updateOlder();
    root.dataset.loaded = "1";
    connectWebSocket(function (reason) { startSse(reason); });
  }).catch(function (e) { setStatus("could not load messages: " + explain(e)); });
})();
