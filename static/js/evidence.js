// Add-evidence form: hash the file in the browser (Web Crypto), ask for an upload URL, PUT the
// file straight to storage with a progress bar, confirm it, then create the evidence record.
//
// Every error is shown in plain words beside the field it concerns (never the API's field paths),
// and every failure path (refusal, 4xx, 5xx, lost connection, timeout) ends with a visible message and
// the button ready to try again: the status line can never stay on "Checking the file…". Input is
// never lost: the page only reloads after the evidence is saved. A file that was already verified is
// not uploaded again on a retry.
(function () {
  "use strict";
  var form = document.getElementById("evidence-form");
  if (!form) return;
  var contributionId = form.dataset.contributionId;
  var progress = document.getElementById("ev_progress");
  var statusText = document.getElementById("ev_status");
  var button = document.getElementById("ev_submit");
  // data-timeout-ms on the form overrides the request timeout (tests use a short one).
  var REQUEST_TIMEOUT_MS = Number(form.dataset.timeoutMs) || 30000;
  var UPLOAD_TIMEOUT_MS = 10 * 60 * 1000;
  var verified = null; // {file, uploadId, hash} of the last file the server verified

  var REASONS = {
    hash_mismatch: "The file was damaged on the way (its fingerprint does not match). Please try again.",
    type_mismatch: "The file's content does not match its type (for example a PNG named .jpg). Choose the original file.",
    type_not_allowed: "This kind of file is not accepted. Use a photo (JPEG, PNG, WebP, HEIC), a video (MP4, WebM), a PDF or a text file.",
    too_large: "The file is too large: photos up to 15 MB, videos up to 100 MB, PDFs up to 10 MB, text files up to 1 MB.",
    size_mismatch: "The upload was incomplete. Please try again.",
    exif_malformed: "The photo's embedded camera data (EXIF) is damaged. Try another photo or a screenshot of it.",
    exif_too_large: "The photo's embedded camera data (EXIF) is too large. Try another photo."
  };
  // API message → words for a person, and the field they belong to.
  var MESSAGES = [
    [/^proof\.timestamp is required$/, "timestamp", "Say when it happened."],
    [/^proof\.timestamp must be RFC3339$/, "timestamp", "This date and time is not valid."],
    [/^proof\.timestamp cannot be in the future$/, "timestamp", "This time is in the future. Choose when it actually happened."],
    [/^proof\.timestamp is too old/, "timestamp", "This is more than 30 days ago. Evidence must be added within 30 days."],
    [/^proof\.media_hash/, "file", "Choose the photo or file again and retry."],
    [/^proof\.location\.lat is required$/, "lat", "Enter the latitude."],
    [/^proof\.location\.lon is required$/, "lon", "Enter the longitude."],
    [/^proof\.location\.lat must be between/, "lat", "The latitude must be a number between −90 and 90."],
    [/^proof\.location\.lon must be between/, "lon", "The longitude must be a number between −180 and 180."],
    [/^proof\.location\.accuracy_m/, "lat", "The accuracy must be zero or more metres."],
    [/^proof\.witnesses.*witness_name/, "witness_name", "Add the witness's name (up to 100 characters)."],
    [/^proof\.witnesses.*relationship/, "relationship", "Choose how the witness knows you."],
    [/^proof\.witnesses/, "witness_name", "Add the witness's name."],
    [/^evidence_data/, "note", "The note is too long."],
    [/^evidence_type/, "evidence_type", "Choose a kind of evidence from the list."],
    [/^upload_id/, "file", "The uploaded file could not be used. Choose it again and retry."],
    [/^size_bytes/, "file", "The file is too large for its type, or empty."],
    [/^content_type/, "file", REASONS.type_not_allowed],
    [/^file_name/, "file", "The file's name is too long. Rename it and try again."]
  ];
  var STATUS_WORDS = {
    401: "You have been signed out. Sign in again in another tab, then try again.",
    403: "This was refused: reload the page (your session may have changed) and try again.",
    404: "This contribution or upload no longer exists. Reload the page.",
    409: "The upload is not finished yet. Try again.",
    413: REASONS.too_large,
    429: "Too many uploads in a short time. Wait a minute and try again."
  };

  function cookie(name) {
    var match = document.cookie.match("(?:^|; )" + name + "=([^;]*)");
    return match ? decodeURIComponent(match[1]) : "";
  }
  function requestId() {
    return (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random().toString(16).slice(2);
  }
  function slot(name) { return form.querySelector('[data-error-for="' + name + '"]'); }
  function control(name) { return form.querySelector('[name="' + name + '"]'); }
  function clearErrors() {
    form.querySelectorAll("[data-error-for]").forEach(function (el) { el.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
  }
  function showError(field, message) {
    var target = slot(field) || slot("form");
    target.textContent = message;
    var input = control(field);
    if (input) input.setAttribute("aria-invalid", "true");
  }
  // A failure that ends this attempt: already shown (`shown`), or a message for a field.
  function Failure(field, message) { this.field = field; this.message = message; }
  function fail(field, message) { return new Failure(field, message); }

  function words(status, body, fallbackField) {
    var error = (body && body.error) || {};
    var details = error.details || {};
    if (details.reason && REASONS[details.reason]) return fail(fallbackField, REASONS[details.reason]);
    if (details.fields) {
      var key = Object.keys(details.fields)[0];
      var message = String((details.fields[key] || [""])[0]);
      for (var i = 0; i < MESSAGES.length; i++) {
        if (MESSAGES[i][0].test(message) || MESSAGES[i][0].test(key)) return fail(MESSAGES[i][1], MESSAGES[i][2]);
      }
    }
    if (STATUS_WORDS[status]) return fail(fallbackField, STATUS_WORDS[status]);
    if (status >= 500) return fail(fallbackField, "The server had a problem (error " + status + "). Your input is kept: try again in a moment.");
    return fail(fallbackField, "This was not accepted (error " + status + "). Check the form and try again.");
  }

  function api(path, body, fallbackField) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = setTimeout(function () { if (controller) controller.abort(); }, Number(form.dataset.timeoutMs) || REQUEST_TIMEOUT_MS);
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      signal: controller ? controller.signal : undefined,
      headers: { "Content-Type": "application/json", "X-CSRFToken": cookie("csrftoken"), "X-Request-ID": requestId() },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw words(response.status, data, fallbackField);
        return data;
      });
    }, function (err) {
      if (err && err.name === "AbortError") {
        throw fail(fallbackField, "The server did not answer in time. Check your connection and try again.");
      }
      throw fail(fallbackField, "The connection was lost. Check your connection and try again; your input is kept.");
    }).then(function (data) { clearTimeout(timer); return data; }, function (err) { clearTimeout(timer); throw err; });
  }

  function sha256Hex(file) {
    if (!window.crypto || !crypto.subtle) {
      return Promise.reject(fail("file", "This browser cannot check files here. Use an up-to-date browser over https."));
    }
    return file.arrayBuffer().then(function (buffer) {
      return crypto.subtle.digest("SHA-256", buffer);
    }).then(function (digest) {
      return Array.prototype.map.call(new Uint8Array(digest), function (b) {
        return b.toString(16).padStart(2, "0");
      }).join("");
    }, function () {
      throw fail("file", "The file could not be read. Choose it again.");
    });
  }

  function put(ticket, file) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(ticket.upload_method, ticket.upload_url);
      xhr.timeout = UPLOAD_TIMEOUT_MS;
      Object.keys(ticket.upload_headers || {}).forEach(function (name) {
        xhr.setRequestHeader(name, ticket.upload_headers[name]);
      });
      progress.hidden = false;
      progress.value = 0;
      xhr.upload.onprogress = function (event) {
        if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
      };
      xhr.onload = function () {
        if (xhr.status >= 200 && xhr.status < 300) { progress.value = 100; resolve(); }
        else if (xhr.status >= 500) reject(fail("file", "The storage server had a problem (error " + xhr.status + "). Try again."));
        else reject(fail("file", "The upload was refused (error " + xhr.status + "). Try again; if it repeats, reload the page."));
      };
      xhr.onerror = function () { reject(fail("file", "The upload failed: the connection was lost. Try again.")); };
      xhr.ontimeout = function () { reject(fail("file", "The upload took too long. Check your connection and try again.")); };
      xhr.onabort = function () { reject(fail("file", "The upload was interrupted. Try again.")); };
      xhr.send(file);
    });
  }

  function toggleFields() {
    var type = form.evidence_type.value;
    form.querySelectorAll("[data-for-type]").forEach(function (el) {
      el.hidden = el.dataset.forType !== type;
    });
  }
  form.evidence_type.addEventListener("change", toggleFields);
  toggleFields();

  function timestamp() {
    var value = form.timestamp.value;
    if (!value) return null;
    var moment = new Date(value);
    return isNaN(moment.getTime()) ? "invalid" : moment.toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  function proofFor(type, ts, hash) {
    var proof = { timestamp: ts };
    if (type === "photo_with_timestamp") proof.media_hash = hash;
    if (type === "gps_verification") {
      proof.location = { lat: parseFloat(form.lat.value), lon: parseFloat(form.lon.value) };
      if (isNaN(proof.location.lat)) delete proof.location.lat;
      if (isNaN(proof.location.lon)) delete proof.location.lon;
    }
    if (type === "witness_attestation") {
      proof.witnesses = [{ witness_name: form.witness_name.value.trim(), relationship: form.relationship.value }];
    }
    return proof;
  }

  function uploadFile(file) {
    if (verified && verified.file === file) {
      statusText.textContent = "File already verified.";
      return Promise.resolve(verified);
    }
    statusText.textContent = "Computing the file's fingerprint…";
    return sha256Hex(file).then(function (hash) {
      statusText.textContent = "Requesting an upload address…";
      return api("/v1/evidence/uploads", {
        contribution_id: contributionId, file_name: file.name, content_type: file.type || "application/octet-stream",
        size_bytes: file.size, sha256: hash
      }, "file").then(function (ticket) {
        statusText.textContent = "Uploading…";
        return put(ticket, file).then(function () {
          statusText.textContent = "Checking the file…";
          return api("/v1/evidence/uploads/" + ticket.upload_id + "/confirm", undefined, "file");
        }).then(function () {
          statusText.textContent = "File verified.";
          verified = { file: file, uploadId: ticket.upload_id, hash: hash };
          return verified;
        });
      });
    });
  }

  // Checks made before anything is sent, in the words of the form.
  function precheck(type, ts, file) {
    if (!ts) return fail("timestamp", "Say when it happened.");
    if (ts === "invalid") return fail("timestamp", "This date and time is not valid.");
    if (type === "photo_with_timestamp" && !file) return fail("file", "Choose a photo or file.");
    if (type === "photo_with_timestamp" && file.size === 0) return fail("file", "This file is empty. Choose another one.");
    if (type === "gps_verification") {
      if (form.lat.value.trim() === "") return fail("lat", "Enter the latitude.");
      if (form.lon.value.trim() === "") return fail("lon", "Enter the longitude.");
      var lat = Number(form.lat.value), lon = Number(form.lon.value);
      if (isNaN(lat) || lat < -90 || lat > 90) return fail("lat", "The latitude must be a number between −90 and 90.");
      if (isNaN(lon) || lon < -180 || lon > 180) return fail("lon", "The longitude must be a number between −180 and 180.");
    }
    if (type === "witness_attestation" && !form.witness_name.value.trim()) {
      return fail("witness_name", "Add the witness's name.");
    }
    return null;
  }

  var sending = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sending) return; // a double click sends once
    clearErrors();
    var type = form.evidence_type.value;
    var ts = timestamp();
    var file = type === "photo_with_timestamp" ? form.file.files[0] : null;
    var problem = precheck(type, ts, file);
    if (problem) {
      showError(problem.field, problem.message);
      var input = control(problem.field);
      if (input && input.focus) input.focus();
      return;
    }
    sending = true;
    button.disabled = true;
    button.textContent = "Sending…";
    var uploadedOk = false;
    var step = type === "photo_with_timestamp" ? uploadFile(file) : Promise.resolve(null);
    step.then(function (uploaded) {
      uploadedOk = !!uploaded;
      var note = form.note.value.trim();
      var body = {
        contribution_id: contributionId, evidence_type: type,
        evidence_data: note ? { note: note } : {}, proof: proofFor(type, ts, uploaded && uploaded.hash)
      };
      if (uploaded) body.upload_id = uploaded.uploadId;
      statusText.textContent = uploaded ? "Saving the evidence…" : "";
      return api("/v1/evidence", body, "form").then(function () {
        statusText.textContent = "Saved.";
        window.location.reload();
      });
    }).catch(function (err) {
      var failure = err instanceof Failure ? err : fail("form", "Something went wrong. Your input is kept: try again.");
      // Never leave a step's status ("Checking the file…") behind: say what happened to the file.
      if (uploadedOk) {
        statusText.textContent = "File verified. The evidence is not saved yet: fix the problem, then press “Try again”.";
      } else if (type === "photo_with_timestamp") {
        statusText.textContent = "Not uploaded. Fix the problem, then press “Try again”.";
        progress.hidden = true;
      } else {
        statusText.textContent = "";
      }
      showError(failure.field, failure.message);
      sending = false;
      button.disabled = false;
      button.textContent = "Try again";
    });
  });
  // A new file choice starts a fresh upload.
  form.file.addEventListener("change", function () { verified = null; statusText.textContent = ""; progress.hidden = true; });
})();
