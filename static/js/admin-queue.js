/* The moderators' desk (/admin/): keyboard shortcuts for the review queue and the item page,
   one submit per decision form (double clicks), and the Advanced form's status/action pairing.
   Plain script, no build step; loaded with `defer` (CSP script-src 'self': no inline code).

   Shortcuts (documented on the pages, under "Keyboard shortcuts"):
     j / k      next / previous queue row          o or Enter  open the current row's item
     x          tick the current row (bulk)        a h r w     Approve, Hide for review, Remove, Warn
     ?          show / hide the help
   None of them fires while focus is in a text field, a select or an editable element. */
(function () {
  "use strict";

  var rows = [];
  var current = -1;

  function say(text, kind) {
    var box = document.getElementById("gr-messages");
    if (!box) { return; }
    box.textContent = "";
    var list = document.createElement("ul");
    list.className = "messagelist";
    var item = document.createElement("li");
    item.className = kind || "warning";
    item.textContent = text;
    list.appendChild(item);
    box.appendChild(list);
  }

  function typing(target) {
    if (!target || target === document.body) { return false; }
    var tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable) { return true; }
    if (tag === "INPUT") {
      var type = (target.getAttribute("type") || "text").toLowerCase();
      return ["checkbox", "radio", "button", "submit", "reset", "hidden"].indexOf(type) === -1;
    }
    return false;
  }

  function select(index) {
    if (!rows.length) { return; }
    index = Math.max(0, Math.min(rows.length - 1, index));
    if (current >= 0 && rows[current]) { rows[current].classList.remove("gr-current"); }
    current = index;
    var row = rows[current];
    row.classList.add("gr-current");
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function scope() {
    if (rows.length && current >= 0) { return rows[current]; }
    return document.getElementById("item-decide");
  }

  function press(shortcut) {
    var where = scope();
    if (!where) { return false; }
    var button = where.querySelector("button[data-shortcut='" + shortcut + "']");
    if (!button) { return false; }
    var form = button.form;
    if (form.requestSubmit) { form.requestSubmit(button); } else { button.click(); }
    return true;
  }

  function toggleHelp() {
    var help = document.getElementById("shortcut-help");
    if (!help) { return; }
    help.open = !help.open;
    if (help.open) { help.querySelector("summary").focus(); }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var key = event.key;
    var handled = true;
    if (key === "?") {
      toggleHelp();
    } else if (key === "j" && rows.length) {
      select(current + 1);
    } else if (key === "k" && rows.length) {
      select(current - 1);
    } else if ((key === "o" || (key === "Enter" && event.target === rows[current])) && rows[current]) {
      rows[current].querySelector("a.gr-open").click();
    } else if (key === "x" && rows[current]) {
      var box = rows[current].querySelector("input[type=checkbox]");
      box.checked = !box.checked;
    } else if (key === "a" || key === "h" || key === "r" || key === "w") {
      handled = press(key);
    } else {
      handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  /* One submit per form: a double click (or a key held down) sends one request. The request id in
     the form makes a repeat harmless on the server too; this keeps the page from navigating twice. */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form.gr-quick, form.gr-bulk, #decide-form")) { return; }
    if (navigator.onLine === false) {
      event.preventDefault();
      say("You are offline: nothing was sent. Try again when the connection is back.", "error");
      return;
    }
    if (form.classList.contains("gr-bulk") && !document.querySelector("input[name=content_id][form=bulk-form]:checked")) {
      event.preventDefault();
      say("Select at least one item first (tick its box, or press x on it).", "warning");
      return;
    }
    if (form.dataset.sent === "1") { event.preventDefault(); return; }
    form.dataset.sent = "1";
    form.setAttribute("aria-busy", "true");
    /* back/forward cache: a page restored from history may be submitted again */
    window.addEventListener("pageshow", function () { form.dataset.sent = ""; form.removeAttribute("aria-busy"); });
  });

  /* Advanced form: picking a status picks the action that goes with it (the rules refuse other
     pairs), and a hold gets a duration, so the defaults never contradict each other. */
  function pairStatusAndAction() {
    var status = document.getElementById("id_moderation_status");
    var action = document.getElementById("id_moderation_action");
    var data = document.getElementById("allowed-actions");
    if (!status || !action || !data) { return; }
    var allowed = JSON.parse(data.textContent);
    var hold = document.getElementById("id_hold_duration_minutes");
    var window_ = document.getElementById("id_appeal_window_minutes");
    var release = document.getElementById("id_auto_release_if_no_action");
    status.addEventListener("change", function () {
      var choices = allowed[status.value] || [];
      if (choices.indexOf(action.value) === -1 && choices.length) { action.value = choices[0]; }
      var isHold = action.value === "hold_for_review";
      if (hold) { hold.value = isHold ? (hold.value || "1440") : ""; }
      if (release && !isHold) { release.checked = false; }
      if (window_ && status.value !== "rejected") { window_.value = ""; }
    });
  }

  /* On a phone a wide table scrolls inside its box (the page itself never scrolls sideways);
     such a box must be reachable with the keyboard to scroll it (axe: scrollable-region-focusable). */
  function focusableScrollers() {
    var boxes = document.querySelectorAll("#content .module, #content .changelist-form-container, #content pre");
    Array.prototype.forEach.call(boxes, function (el) {
      var scrolls = el.scrollWidth > el.clientWidth + 1;
      if (scrolls && !el.hasAttribute("tabindex")) {
        el.setAttribute("tabindex", "0");
        el.dataset.grScroll = "1";
      } else if (!scrolls && el.dataset.grScroll === "1") {
        el.removeAttribute("tabindex");
        delete el.dataset.grScroll;
      }
    });
  }

  function init() {
    focusableScrollers();
    window.addEventListener("resize", focusableScrollers);
    rows = Array.prototype.slice.call(document.querySelectorAll("tr.queue-item"));
    rows.forEach(function (row, index) {
      row.addEventListener("focusin", function () {
        if (current !== index) {
          if (current >= 0 && rows[current]) { rows[current].classList.remove("gr-current"); }
          current = index;
          row.classList.add("gr-current");
        }
      });
    });
    if (rows.length) {
      current = 0;
      rows[0].classList.add("gr-current");
    }
    pairStatusAndAction();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
