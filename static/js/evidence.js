// Add-evidence form: hash the file in the browser (Web Crypto), ask for an upload URL, PUT the
// file straight to storage with a progress bar, confirm it, then create the evidence record.
// Every error is shown in words beside the field it concerns.
(function () {
  "use strict";
  var form = document.getElementById("evidence-form");
  if (!form) return;
  var contributionId = form.dataset.contributionId;
  var progress = document.getElementById("ev_progress");
  var statusText = document.getElementById("ev_status");

  var REASONS = {
    hash_mismatch: "The uploaded file was damaged on the way (its fingerprint does not match). Please try again.",
    type_mismatch: "The file's content does not match its type (for example a PNG named .jpg).",
    type_not_allowed: "This kind of file is not accepted. Use a photo (JPEG, PNG, WebP, HEIC), a video (MP4, WebM), a PDF or a text/JSON file.",
    too_large: "The file is too large for its type.",
    size_mismatch: "The upload was incomplete. Please try again.",
    exif_malformed: "The photo's embedded data (EXIF) is damaged.",
    exif_too_large: "The photo's embedded data (EXIF) is too large."
  };
  // API field names → the form field whose error slot shows the message.
  var FIELD_SLOTS = {
    "proof.timestamp": "timestamp", "proof.media_hash": "file", "upload_id": "file",
    "proof.location.lat": "lat", "proof.location.lon": "lon", "proof.location.accuracy_m": "lat",
    "proof.witnesses": "witness_name", "evidence_type": "evidence_type", "evidence_data": "note",
    "file_name": "file", "content_type": "file", "size_bytes": "file", "sha256": "file"
  };

  function cookie(name) {
    var match = document.cookie.match("(?:^|; )" + name + "=([^;]*)");
    return match ? decodeURIComponent(match[1]) : "";
  }
  function requestId() {
    return (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random().toString(16).slice(2);
  }
  function slot(name) { return form.querySelector('[data-error-for="' + name + '"]'); }
  function clearErrors() { form.querySelectorAll("[data-error-for]").forEach(function (el) { el.textContent = ""; }); }
  function showError(field, message) {
    var target = slot(field) || slot("form");
    target.textContent = message;
  }
  function slotFor(apiField) {
    if (FIELD_SLOTS[apiField]) return FIELD_SLOTS[apiField];
    if (apiField.indexOf("proof.witnesses[") === 0) {
      return apiField.indexOf("relationship") > 0 ? "relationship" : "witness_name";
    }
    return "form";
  }
  function showApiError(body, fallbackField) {
    var error = (body && body.error) || {};
    var details = error.details || {};
    if (details.reason && REASONS[details.reason]) return showError(fallbackField, REASONS[details.reason]);
    if (details.fields) {
      var field = Object.keys(details.fields)[0];
      return showError(slotFor(field) === "form" ? fallbackField : slotFor(field), details.fields[field][0]);
    }
    showError(fallbackField, error.message || "Something went wrong; please try again.");
  }

  function api(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": cookie("csrftoken"), "X-Request-ID": requestId() },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, status: response.status, body: data };
      });
    });
  }

  function sha256Hex(file) {
    return file.arrayBuffer().then(function (buffer) {
      return crypto.subtle.digest("SHA-256", buffer);
    }).then(function (digest) {
      return Array.prototype.map.call(new Uint8Array(digest), function (b) {
        return b.toString(16).padStart(2, "0");
      }).join("");
    });
  }

  function put(ticket, file) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(ticket.upload_method, ticket.upload_url);
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
        else reject(new Error("The upload was refused (HTTP " + xhr.status + "). Please try again."));
      };
      xhr.onerror = function () { reject(new Error("The upload failed: the connection was lost.")); };
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
    return isNaN(moment.getTime()) ? "invalid" : moment.toISOString();
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
    statusText.textContent = "Computing the file's fingerprint…";
    return sha256Hex(file).then(function (hash) {
      statusText.textContent = "Requesting an upload URL…";
      return api("/v1/evidence/uploads", {
        contribution_id: contributionId, file_name: file.name, content_type: file.type || "application/octet-stream",
        size_bytes: file.size, sha256: hash
      }).then(function (res) {
        if (!res.ok) { showApiError(res.body, "file"); throw null; }
        statusText.textContent = "Uploading…";
        return put(res.body, file).catch(function (err) { showError("file", err.message); throw null; })
          .then(function () {
            statusText.textContent = "Checking the file…";
            return api("/v1/evidence/uploads/" + res.body.upload_id + "/confirm");
          }).then(function (confirmed) {
            if (!confirmed.ok) { showApiError(confirmed.body, "file"); throw null; }
            statusText.textContent = "File verified.";
            return { uploadId: res.body.upload_id, hash: hash };
          });
      });
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    var type = form.evidence_type.value;
    var ts = timestamp();
    if (!ts) return showError("timestamp", "Please say when it happened.");
    if (ts === "invalid") return showError("timestamp", "This date and time is not valid.");
    var file = form.file.files[0];
    if (type === "photo_with_timestamp" && !file) return showError("file", "Please choose a photo.");
    if (file && file.size === 0) return showError("file", "This file is empty.");
    var button = document.getElementById("ev_submit");
    button.disabled = true;
    var step = type === "photo_with_timestamp" ? uploadFile(file) : Promise.resolve(null);
    step.then(function (uploaded) {
      var note = form.note.value.trim();
      var body = {
        contribution_id: contributionId, evidence_type: type,
        evidence_data: note ? { note: note } : {}, proof: proofFor(type, ts, uploaded && uploaded.hash)
      };
      if (uploaded) body.upload_id = uploaded.uploadId;
      return api("/v1/evidence", body).then(function (res) {
        if (!res.ok) { showApiError(res.body, "form"); throw null; }
        window.location.reload();
      });
    }).catch(function (err) {
      if (err) showError("form", err.message || "Something went wrong; please try again.");
    }).then(function () { button.disabled = false; });
  });
})();
