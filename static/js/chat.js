// Thread page: latest messages, scroll-back, idempotent sends, live updates.
// Transport ladder (03-chat.md): WebSocket (5 s connect timeout) -> SSE -> polling every 5 s;
// while degraded, try to upgrade every 30 s. Every transition is reported to /v1/chat/telemetry.
// Messages are deduplicated by seq, so overlapping transports never show one twice.
(function () {
  "use strict";
  var root = document.getElementById("chat");
  if (!root) return;
  var CFG = { wsTimeoutMs: 5000, pollMs: 5000, upgradeMs: 30000, pageSize: 50 };
  var threadId = root.dataset.threadId;
  var csrf = root.dataset.csrf;
  var api = "/v1/chat/threads/" + threadId;
  var list = document.getElementById("chat-messages");
  var statusEl = document.getElementById("chat-status");
  var errorEl = document.getElementById("chat-error");
  var form = document.getElementById("chat-form");
  var bodyEl = document.getElementById("chat-body");
  var olderBtn = document.getElementById("chat-older");
  var fileEl = document.getElementById("chat-file");
  var bySeq = {};
  var lastSeq = 0;
  var firstSeq = null;
  var transport = null;
  var ws = null, es = null, pollTimer = null, upgradeTimer = null, stopped = false;
  var pending = null; // {body, requestId}: one X-Request-ID per message, reused on retry

  function setStatus(text) { statusEl.textContent = text; root.dataset.transport = transport || ""; }

  function render(m) {
    var li = bySeq[m.seq];
    if (!li) {
      li = document.createElement("li");
      li.className = "chat-message";
      li.dataset.seq = m.seq;
      li.dataset.messageId = m.message_id;
      var author = document.createElement("span");
      author.className = "author";
      var body = document.createElement("span");
      body.className = "body";
      var files = document.createElement("div");
      files.className = "attachments";
      li.appendChild(author);
      li.appendChild(body);
      li.appendChild(files);
      var next = null;
      for (var i = 0; i < list.children.length; i++) {
        if (Number(list.children[i].dataset.seq) > m.seq) { next = list.children[i]; break; }
      }
      list.insertBefore(li, next);
      bySeq[m.seq] = li;
    }
    li.querySelector(".author").textContent = (m.author && m.author.username) || m.author_id;
    li.querySelector(".body").textContent = m.deleted_at_ms ? "(deleted)" : m.body;
    li.classList.toggle("deleted", !!m.deleted_at_ms);
    renderAttachments(li.querySelector(".attachments"), m.attachments || []);
    if (m.seq > lastSeq) lastSeq = m.seq;
    if (firstSeq === null || m.seq < firstSeq) firstSeq = m.seq;
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

  function addMessages(items, scroll) {
    items.forEach(render);
    if (scroll) list.scrollTop = list.scrollHeight;
    if (items.length) markRead();
  }

  function request(method, url, body, headers) {
    var h = { "Accept": "application/json" };
    if (body !== undefined) { h["Content-Type"] = "application/json"; h["X-CSRFToken"] = csrf; }
    Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
    return fetch(url, { method: method, credentials: "same-origin", headers: h,
      body: body === undefined ? undefined : JSON.stringify(body) }).then(function (r) {
      if (r.status === 204) return null;
      return r.json().then(function (data) {
        if (!r.ok) { var e = new Error((data.error && data.error.message) || r.statusText); e.status = r.status; throw e; }
        return data;
      });
    });
  }

  var readTimer = null;
  function markRead() {
    if (readTimer) return;
    readTimer = setTimeout(function () {
      readTimer = null;
      if (lastSeq > 0) request("POST", api + "/read-cursor", { seq: lastSeq }).catch(function () {});
    }, 500);
  }

  function upload(file) {
    var data = new FormData();
    data.append("file", file, file.name);
    return fetch("/v1/chat/attachments/upload", { method: "POST", credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": csrf }, body: data }).then(function (r) {
      return r.json().then(function (out) {
        if (!r.ok) { var e = new Error((out.error && out.error.message) || r.statusText); e.status = r.status; throw e; }
        return out;
      });
    });
  }

  function report(from, to, reason) {
    request("POST", "/v1/chat/telemetry", { from: from || to, to: to, reason: reason }).catch(function () {});
  }

  function handle(env) {
    if (!env || !env.event_type) return;
    if (env.event_type === "closed") {
      stopped = true;
      closeAll();
      setStatus(env.data && env.data.reason === "unauthorized" ? "signed out" : "you no longer have access");
      return;
    }
    if (env.message) addMessages([env.message], true);
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
    ["message", "message_updated", "message_deleted", "message_hidden", "message_restored", "closed"].forEach(function (t) {
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
      addMessages(items, true);
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

  function send(message) {
    errorEl.textContent = "";
    // The upload happens once per pending message; a retry re-sends the same attachment ids.
    var ready = message.attachments ? Promise.resolve(message.attachments)
      : message.file ? upload(message.file).then(function (a) { message.attachments = [{ attachment_id: a.attachment_id }]; return message.attachments; })
      : Promise.resolve([]);
    return ready.then(function (attachments) {
      return request("POST", api + "/messages/send", { body: message.body, attachments: attachments },
        { "X-Request-ID": message.requestId });
    }).then(function (m) {
      pending = null;
      bodyEl.value = "";
      fileEl.value = "";
      addMessages([m], true);
    }).catch(function (e) {
      errorEl.textContent = "Not sent: " + e.message + (e.status && e.status < 500 && e.status !== 429 && e.status !== 409 ? "" : " (press Send to retry)");
      if (e.status && e.status < 500 && e.status !== 429 && e.status !== 409) pending = null;
    });
  }

  function newRequestId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + "-" + Math.random().toString(16).slice(2);
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = bodyEl.value.trim();
    var file = fileEl.files && fileEl.files[0] || null;
    if (!text && file) text = file.name;
    if (!text) return;
    if (!pending || pending.body !== text || pending.file !== file) pending = { body: text, file: file, requestId: newRequestId() };
    send(pending);
  });
  bodyEl.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
  });

  olderBtn.addEventListener("click", function () {
    if (firstSeq === null || firstSeq <= 1) { olderBtn.disabled = true; return; }
    var height = list.scrollHeight;
    request("GET", api + "/messages?before_seq=" + firstSeq + "&limit=" + CFG.pageSize).then(function (items) {
      addMessages(items, false);
      list.scrollTop = list.scrollHeight - height;
      if (!items.length || firstSeq <= 1) olderBtn.disabled = true;
    });
  });

  request("GET", api + "/messages?limit=" + CFG.pageSize).then(function (items) {
    addMessages(items, true);
    if (firstSeq === null || firstSeq <= 1) olderBtn.disabled = true;
    connectWebSocket(function (reason) { startSse(reason); });
  }).catch(function (e) { setStatus("could not load messages: " + e.message); });
})();
