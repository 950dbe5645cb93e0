// Contribution and profile pages: copy buttons for hashes, and forms that must be sent once.
(function () {
  "use strict";

  // <button data-copy="#id">: copies the text of the element, says so in words (role=status).
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.querySelector(button.dataset.copy);
      var status = document.getElementById(button.getAttribute("aria-describedby") || "");
      var text = source ? source.textContent.trim() : "";
      function say(words) { if (status) status.textContent = words; }
      var done = navigator.clipboard && window.isSecureContext
        ? navigator.clipboard.writeText(text)
        : new Promise(function (resolve, reject) {
          var range = document.createRange();
          range.selectNodeContents(source);
          var selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          (document.execCommand && document.execCommand("copy")) ? resolve() : reject(new Error("copy"));
        });
      done.then(function () { say("Copied."); }, function () { say("Select the text and copy it."); });
    });
  });

  function cookie(name) {
    var match = document.cookie.match("(?:^|; )" + name + "=([^;]*)");
    return match ? decodeURIComponent(match[1]) : "";
  }

  // <form data-once>: the button is disabled after the first submit (no duplicate on a double click;
  // the server also replays a repeated form_token), and the CSRF field takes the current cookie value
  // so a page left open across a sign-in still submits.
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sending === "1") { event.preventDefault(); return; }
      var token = cookie("csrftoken");
      var field = form.querySelector("input[name=csrfmiddlewaretoken]");
      if (token && field) field.value = token;
      form.dataset.sending = "1";
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        b.setAttribute("aria-disabled", "true");
        b.dataset.label = b.textContent;
        b.textContent = b.dataset.sendingLabel || "Sending…";
      });
    });
  });
  // Back/forward cache: a restored page must not keep its buttons in the sending state.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-once]").forEach(function (form) {
      form.dataset.sending = "";
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        b.removeAttribute("aria-disabled");
        if (b.dataset.label) b.textContent = b.dataset.label;
      });
    });
  });
})();
