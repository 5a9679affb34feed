// Check-in desk: USB scanners type the ticket code and press Enter; the webcam path decodes
// frames locally with jsQR. Every action goes to the server, which verifies the signed ticket.
(function () {
  "use strict";
  var desk = document.getElementById("desk");
  if (!desk) return;
  var L = document.getElementById("t-labels").dataset;
  var body = document.getElementById("result-body");

  // Any answer that is not our JSON (an expired login, a server error, the network) is shown,
  // never swallowed: a scan must not be lost silently.
  function json(r) {
    return r.json().catch(function () {
      return {ok: false, error: L.failed + " (HTTP " + r.status + ")"};
    });
  }
  function failed() { return {ok: false, error: L.failed}; }
  function post(url, data) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": desk.dataset.csrf},
      body: JSON.stringify(data)
    }).then(json, failed);
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function showCandidate(c, message, ok) {
    body.className = "";
    body.replaceChildren();
    if (message) body.appendChild(el("p", ok ? "ok-box" : "error-box", message));
    var card = el("div", "candidate");
    if (c.photo) { var img = el("img", "photo"); img.src = c.photo; img.alt = c.name; card.appendChild(img); }
    else card.appendChild(el("div", "photo none", L.nophoto));
    var info = el("div");
    info.appendChild(el("p", "name", c.name + "（" + c.gender + "）"));
    info.appendChild(el("p", null, c.admission_number + " · " + c.masked_id));
    info.appendChild(el("p", null, c.organisation || ""));
    info.appendChild(el("p", "seat", c.room + " · " + L.seat + " " + (c.seat || "")));
    card.appendChild(info);
    body.appendChild(card);
    return card;
  }

  function showError(res) {
    body.className = "";
    body.replaceChildren(el("p", "error-box", res.error));
    (res.details || []).forEach(function (d) { body.appendChild(el("p", "muted", d)); });
  }

  function handle(res) {
    if (!res.ok) { showError(res); return; }
    var msg = res.already ? L.already : L.present + (res.candidate.late ? " · " + L.late : "");
    showCandidate(res.candidate, msg, !res.already);
    refreshCounts();
  }

  var scanInput = document.getElementById("scan-input");
  document.getElementById("scan-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var token = scanInput.value.trim();
    scanInput.value = "";
    if (token) post(desk.dataset.scan, {token: token}).then(handle);
    scanInput.focus();
  });

  document.getElementById("find-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var q = document.getElementById("find-input").value.trim();
    var list = document.getElementById("find-results");
    fetch(desk.dataset.find + "?q=" + encodeURIComponent(q), {credentials: "same-origin"})
      .then(json, failed)
      .then(function (res) {
        list.replaceChildren();
        if (!res.candidates) { showError(res); return; }
        if (!res.candidates.length) list.appendChild(el("li", "muted", L.none));
        res.candidates.forEach(function (c) {
          var li = el("li");
          var b = el("button", "link-button", c.name + " · " + c.admission_number + " · " + c.masked_id);
          b.type = "button";
          b.addEventListener("click", function () {
            var card = showCandidate(c, "", true);
            var confirm = el("button", "confirm", L.confirm);
            confirm.type = "button";
            confirm.addEventListener("click", function () {
              post(desk.dataset.confirm, {admission_number: c.admission_number}).then(handle);
            });
            card.appendChild(confirm);
          });
          li.appendChild(b);
          list.appendChild(li);
        });
      });
  });

  function refreshCounts() {
    fetch(desk.dataset.counts, {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (res) {
        var tbody = document.querySelector("#counts tbody");
        tbody.replaceChildren();
        res.rooms.forEach(function (c) {
          var tr = el("tr");
          [c.room, c.total, c.present, c.late, c.absent, c.waiting].forEach(function (v, i) {
            tr.appendChild(el("td", i ? "num" : "", String(v)));
          });
          tbody.appendChild(tr);
        });
      });
  }
  setInterval(refreshCounts, 5000);

  var absentees = document.getElementById("absentees");
  if (absentees) absentees.addEventListener("click", function () {
    post(desk.dataset.absentees, {}).then(function (res) {
      if (!res.ok) showError(res); else refreshCounts();
    });
  });

  // Webcam scanning, decoded in the page with the locally served jsQR.
  var video = document.getElementById("camera");
  var canvas = document.getElementById("camera-frame");
  var stream = null, last = "";
  document.getElementById("camera-toggle").addEventListener("click", function () {
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; video.hidden = true; return; }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { showError({error: L.nocamera}); return; }
    navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}}).then(function (s) {
      stream = s; video.srcObject = s; video.hidden = false; video.play(); requestAnimationFrame(tick);
    }, function () { showError({error: L.nocamera}); });
  });
  function tick() {
    if (!stream) return;
    if (video.readyState === video.HAVE_ENOUGH_DATA) {
      canvas.width = video.videoWidth; canvas.height = video.videoHeight;
      var ctx = canvas.getContext("2d");
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      var frame = ctx.getImageData(0, 0, canvas.width, canvas.height);
      var code = window.jsQR && window.jsQR(frame.data, frame.width, frame.height);
      if (code && code.data && code.data !== last) {
        last = code.data;
        post(desk.dataset.scan, {token: code.data}).then(handle);
        setTimeout(function () { last = ""; }, 3000);
      }
    }
    setTimeout(function () { requestAnimationFrame(tick); }, 250);
  }
})();
