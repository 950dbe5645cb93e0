// Jump to a message in context (search results link to /threads/{id}?seq=N#m-N).
// chat.js loads the latest messages; after its "gr:message" events settle, this finds
// li[data-seq=N], scrolls it to the middle of the list and highlights it. If the target is older than
// what is loaded, it presses "Load older messages" (chat.js then calls the before_seq API and keeps
// the scroll position) until the target is on the page or nothing older is left.
(function () {
  "use strict";
  var root = document.getElementById("chat");
  if (!root) return;
  var params = new URLSearchParams(window.location.search);
  var raw = params.get("seq") || (window.location.hash.match(/^#m-(\d+)$/) || [])[1];
  var target = Number(raw);
  if (!raw || !Number.isInteger(target) || target < 1) return;
  var MAX_PAGES = 400;
  var pages = 0;
  var settle = null;
  var done = false;
  root.dataset.jump = "pending";

  function lowestSeq() {
    var first = root.querySelector("li[data-seq]");
    return first ? Number(first.dataset.seq) : null;
  }

  function finish(li) {
    done = true;
    if (!li) { root.dataset.jump = "missing"; return; }
    li.id = li.id || "m-" + target;
    li.classList.add("jump-target");
    li.setAttribute("tabindex", "-1");
    li.scrollIntoView({ block: "center" });
    li.focus({ preventScroll: true });
    root.dataset.jump = "found";
    // The highlight fades after a while; the message keeps a subtle mark until another is chosen.
    setTimeout(function () { li.classList.add("jump-target-seen"); }, 4000);
  }

  function check() {
    settle = null;
    if (done) return;
    var li = root.querySelector('li[data-seq="' + target + '"]');
    if (li) { finish(li); return; }
    var low = lowestSeq();
    var older = document.getElementById("chat-older");
    if (low === null) { if (root.dataset.loaded === "1") finish(null); return; }
    if (low <= target || !older || older.disabled || pages >= MAX_PAGES) { finish(null); return; }
    if (older.getAttribute("aria-busy") === "true") { settle = setTimeout(check, 100); return; }
    pages += 1;
    older.click();
  }

  function later() {
    if (done) return;
    if (settle) clearTimeout(settle);
    settle = setTimeout(check, 60); // after chat.js has finished the batch (and its own scrolling)
  }
  document.addEventListener("gr:message", later);
  // An empty thread (or one whose messages all loaded before this script ran) sends no events.
  var wait = setInterval(function () {
    if (done) { clearInterval(wait); return; }
    if (root.dataset.loaded === "1") { clearInterval(wait); later(); }
  }, 200);
})();
