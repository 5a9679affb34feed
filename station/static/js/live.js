// Examiners' live console: the seat table refreshes itself every 3 s; actions post JSON.
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root) return;
  var L = document.getElementById("live-labels").dataset;
  var tbody = document.querySelector("#seats tbody");
  var roomSelect = document.getElementById("room-select");
  var message = document.getElementById("live-message");
  var panel = document.getElementById("action-panel");
  var form = document.getElementById("action-form");
  var current = null, currentTerminal = "";

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function clock(seconds) {
    if (seconds === null || seconds === undefined) return "";
    var s = Math.max(0, Math.round(seconds)), h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
    return (h ? h + ":" : "") + (m < 10 && h ? "0" : "") + m + ":" + ("0" + s % 60).slice(-2);
  }
  function post(url, data) {
    return fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf},
      body: JSON.stringify(data)}).then(function (r) { return r.json(); });
  }
  function say(res) {
    message.className = res.ok ? "ok-box" : "error-box";
    message.textContent = res.ok ? (res.message || "✓") : [res.error].concat(res.details || []).join("；");
  }

  function refresh() {
    var url = root.dataset.feed + (roomSelect.value ? "?room=" + encodeURIComponent(roomSelect.value) : "");
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (res) {
      tbody.replaceChildren();
      res.seats.forEach(function (x) {
        var tr = el("tr", "seat-" + x.status);
        tr.dataset.number = x.admission_number;
        tr.appendChild(el("td", null, x.room));
        tr.appendChild(el("td", "num", x.seat));
        tr.appendChild(el("td", null, x.name + " · " + x.admission_number));
        var st = el("td", null);
        st.appendChild(el("span", "tag status-" + x.status, x.status_label));
        // The code is the one on the asking terminal's screen: the examiner compares the two.
        if (x.pending_terminal) {
          st.appendChild(el("span", "tag warn", L.pending + "（" + x.pending_terminal_code + "）"));
        }
        tr.appendChild(st);
        tr.appendChild(el("td", "num", x.total ? x.answered + " / " + x.total : ""));
        tr.appendChild(el("td", null, x.last_activity));
        tr.appendChild(el("td", "num", clock(x.remaining_seconds)));
        var cell = el("td");
        var b = el("button", "secondary small", L.act);
        b.type = "button";
        b.addEventListener("click", function () {
          current = x.admission_number;
          currentTerminal = x.pending_terminal || "";  // what "approve" approves, as seen now
          document.getElementById("action-who").textContent = x.name + "（" + x.admission_number + "）" +
            (x.pending_terminal ? " · " + L.pending + "（" + x.pending_terminal_code + "）" : "");
          panel.hidden = false;
          form.reason.focus();
        });
        cell.appendChild(b);
        tr.appendChild(cell);
        tbody.appendChild(tr);
      });
    });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!current) return;
    post(root.dataset.act + encodeURIComponent(current) + "/act", {
      action: form.action.value, reason: form.reason.value, minutes: form.minutes.value,
      category: form.category.value, terminal: currentTerminal
    }).then(function (res) {
      say(res);
      if (res.ok) { panel.hidden = true; form.reset(); }
      refresh();
    });
  });
  document.getElementById("action-cancel").addEventListener("click", function () { panel.hidden = true; });
  Array.prototype.forEach.call(document.querySelectorAll("[data-room-action]"), function (b) {
    b.addEventListener("click", function () {
      if (!roomSelect.value) { say({ok: false, error: roomSelect.options[0].textContent}); return; }
      post(root.dataset.roomAct + encodeURIComponent(roomSelect.value) + "/act",
           {action: b.dataset.roomAction, reason: document.getElementById("room-reason").value})
        .then(function (res) { say(res); refresh(); });
    });
  });
  roomSelect.addEventListener("change", refresh);
  refresh();
  setInterval(refresh, 3000);
})();
