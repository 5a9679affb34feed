// Candidate exam terminal: the login page and the exam page, both clients of the JSON API in
// docs/exam-api.md. The server's clock and the server's copy of each answer are the ones that
// count. Every change the candidate makes is written to localStorage before it is sent and stays
// there until the server acknowledges it, so a dropped network or a crashed page loses nothing
// the page had accepted; the queue is replayed in sequence order when the connection returns.
(function () {
  "use strict";
  var TOKEN = "skillcert.exam.token";
  var POSITION = "skillcert.exam.position";
  var TERMINAL = "skillcert.exam.terminal";
  var FONT = "skillcert.exam.font";
  var QUEUE = "skillcert.exam.queue.";
  var FINISHED = {submitted: true, ended: true, disqualified: true};
  var FONT_STEPS = 5, FONT_DEFAULT = 1;
  var REQUEST_TIMEOUT = 10000, SAVE_TIMEOUT = 5000;  // ms; a hung request is abandoned and retried

  // --- small helpers ------------------------------------------------------------------------

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function $(id) { return document.getElementById(id); }
  function fmt(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (whole, key) {
      return values[key] === undefined || values[key] === null ? whole : String(values[key]);
    });
  }
  function labels(id) {
    var t = $(id);
    return {get: function (name) { return t ? t.getAttribute("data-" + name) || "" : ""; }};
  }
  function storage(kind) {
    try { var s = window[kind]; s.getItem("x"); return s; } catch (e) { return null; }
  }
  var local = storage("localStorage"), session = storage("sessionStorage");
  function read(s, key) { try { return s ? s.getItem(key) : null; } catch (e) { return null; } }
  function write(s, key, value) { try { if (s) s.setItem(key, value); } catch (e) { /* full */ } }
  function remove(s, key) { try { if (s) s.removeItem(key); } catch (e) { /* ignore */ } }
  function show(node, on) { node.hidden = !on; }

  // One HTTP call: resolves {status, data} for any answer from the server, rejects when the
  // server could not be reached (network down, timeout).
  function call(method, url, body, token, timeout) {
    var headers = {"Accept": "application/json"};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = "Bearer " + token;
    var abort = typeof AbortController === "function" ? new AbortController() : null;
    var timer = abort ? setTimeout(function () { abort.abort(); }, timeout || REQUEST_TIMEOUT) : null;
    return fetch(url, {
      method: method, headers: headers, credentials: "omit", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: abort ? abort.signal : undefined
    }).then(function (r) {
      if (timer) clearTimeout(timer);
      return r.json().catch(function () { return {}; }).then(function (data) {
        return {status: r.status, data: data || {}};
      });
    }, function (err) {
      if (timer) clearTimeout(timer);
      throw err;
    });
  }

  function terminalId() {
    var id = read(local, TERMINAL);
    if (id) return id;
    var bytes = new Uint8Array(16), hex = "";
    if (window.crypto && window.crypto.getRandomValues) window.crypto.getRandomValues(bytes);
    else for (var i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    for (var j = 0; j < bytes.length; j++) hex += ("0" + bytes[j].toString(16)).slice(-2);
    id = "t-" + hex;
    write(local, TERMINAL, id);
    return id;
  }

  // --- login page ---------------------------------------------------------------------------

  function loginPage(root) {
    var L = labels("login-labels");
    var form = $("login-form"), number = $("admission-number"), digits = $("id-last6");
    var code = $("resume-code"), waiting = $("waiting"), message = $("login-message");
    var submit = $("login-submit"), cancel = $("login-cancel"), terminalLine = $("terminal-line");
    var retry = null, busy = false, isWaiting = false;

    if (read(session, TOKEN)) { window.location.replace(root.dataset.take); return; }

    function say(text) { message.textContent = text || ""; show(message, !!text); }
    // The short code the examiner sees in the console next to a terminal asking to be approved.
    function showTerminal(terminalCode) {
      terminalLine.textContent = terminalCode ? fmt(L.get("terminal"), {code: terminalCode}) : "";
      show(terminalLine, !!terminalCode);
    }
    function setWaiting(on) {
      isWaiting = on;
      show(waiting, on);
      show(cancel, on);
      number.readOnly = digits.readOnly = on;
      submit.textContent = on ? L.get("with-code") : L.get("submit");
      if (!on && retry) { clearTimeout(retry); retry = null; }
    }
    function again() {
      if (retry) clearTimeout(retry);
      retry = setTimeout(function () { retry = null; attempt(false); }, 3000);
    }

    function attempt(byHand) {
      if (busy) return;
      var body = {admission_number: number.value.trim(), id_last6: digits.value.trim().toUpperCase(),
                  terminal_id: terminalId()};
      // A typed resume code goes with a press of the button only, never with the automatic
      // retries: a wrong one counts against this terminal (the server throttles guessing).
      if (byHand && code.value.trim()) body.resume_code = code.value.trim();
      if (!body.admission_number || !body.id_last6) { say(L.get("missing")); return; }
      busy = true;
      if (byHand) { submit.disabled = true; if (!isWaiting) submit.textContent = L.get("busy"); }
      call("POST", root.dataset.api, body).then(function (res) {
        busy = false;
        submit.disabled = false;
        if (res.status === 200 && res.data.token) {
          if (retry) clearTimeout(retry);
          write(session, TOKEN, res.data.token);
          window.location.replace(root.dataset.take);
          return;
        }
        var data = res.data;
        if (res.status === 409 && (data.error === "awaiting_approval" || data.error === "bad_resume_code")) {
          setWaiting(true);
          showTerminal(data.terminal_code);
          say(data.error === "bad_resume_code" ? L.get("bad-code") : "");
          again();
          return;
        }
        if (res.status === 429) {
          // Too many failed tries: the server says how long to wait. An examiner may still
          // approve this terminal (by its code) in the console; then the next try gets in.
          showTerminal(data.terminal_code);
          say(data.message || String(res.status));
          if (isWaiting) again();  // the credentials were right: keep asking
          else submit.textContent = L.get("submit");
          return;
        }
        setWaiting(false);
        showTerminal("");
        say(data.message || String(res.status));
      }, function () {
        busy = false;
        submit.disabled = false;
        if (!isWaiting) submit.textContent = L.get("submit");
        say(L.get("network"));
        if (isWaiting) again();
      });
    }

    form.addEventListener("submit", function (ev) { ev.preventDefault(); attempt(true); });
    cancel.addEventListener("click", function () {
      setWaiting(false); showTerminal(""); say(""); code.value = "";
    });
  }

  // --- exam page ----------------------------------------------------------------------------

  function examPage(root) {
    var L = labels("exam-labels");
    var token = read(session, TOKEN);
    if (!token) { window.location.replace(root.dataset.login); return; }
    var urls = {state: root.dataset.stateUrl, start: root.dataset.startUrl, form: root.dataset.formUrl,
                submit: root.dataset.submitUrl, answer: root.dataset.answerUrl};
    var screens = ["screen-loading", "screen-instructions", "screen-exam", "screen-finished"];
    var bar = $("exam-status"), countdown = $("countdown"), saveStatus = $("save-status");
    var optionList = $("item-option-list"), fieldset = $("item-options"), flagButton = $("flag");
    var mapGrid = $("map-grid"), dialog = $("submit-dialog");

    var queueKey = null;
    var store = {seq: 0, pending: {}};    // persisted: the change counter and unacknowledged changes
    var items = [], answers = {}, rejected = {}, current = 0;
    var status = null, lastState = null;
    var offset = 0;                       // server clock minus local clock, in ms
    var deadline = null;                  // on the server's clock, ms since the epoch
    var frozen = null;                    // remaining seconds while the clock is stopped
    var stopped = false, timeUp = false, weSubmitted = false, examShown = false;
    var sending = null, retryTimer = null, backoff = 0, unreachable = false;
    var browserOffline = navigator.onLine === false;  // until a request gets through anyway
    var pollTimer = null, tickTimer = null, dismissed = null, syncing = false;

    function showScreen(id) {
      screens.forEach(function (s) { show($(s), s === id); });
      show(bar, id === "screen-exam");
    }

    // The queue, kept in localStorage under the admission number.
    function loadQueue(admission) {
      if (queueKey) return;
      queueKey = QUEUE + admission;
      try {
        var saved = JSON.parse(read(local, queueKey) || "null");
        if (saved && typeof saved.seq === "number" && saved.pending) store = saved;
      } catch (e) { /* a damaged entry: start afresh */ }
    }
    function persist() { if (queueKey) write(local, queueKey, JSON.stringify(store)); }
    function pendingList() {
      return Object.keys(store.pending).map(function (k) { return store.pending[k]; })
        .sort(function (a, b) { return a.seq - b.seq; });
    }
    function pendingCount() { return Object.keys(store.pending).length; }
    function offline() { return unreachable || browserOffline; }

    // --- the clock ---
    function serverNow() { return Date.now() + offset; }
    function remaining() {
      if (status === "in_progress" && deadline !== null) return Math.max((deadline - serverNow()) / 1000, 0);
      return frozen === null ? null : Math.max(frozen, 0);
    }
    function clock(seconds) {
      var s = Math.max(0, Math.ceil(seconds)), h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
      var mm = h ? ("0" + m).slice(-2) : String(m);
      return (h ? h + ":" : "") + mm + ":" + ("0" + s % 60).slice(-2);
    }
    function tick() {
      var left = remaining();
      if (left === null) { countdown.textContent = "--:--"; return; }
      countdown.textContent = clock(left);
      countdown.setAttribute("data-remaining", String(Math.ceil(left)));
      countdown.classList.toggle("low", status === "in_progress" && left < 300);
      countdown.classList.toggle("stopped", status !== "in_progress");
      if (status === "in_progress" && left <= 0 && !stopped) onTimeUp();
    }

    // --- state from the server ---
    function applyState(s) {
      lastState = s;
      loadQueue(s.candidate.admission_number);
      offset = Date.parse(s.server_now) - Date.now();
      deadline = s.deadline ? Date.parse(s.deadline) : null;
      frozen = s.remaining_seconds;
      var was = status;
      status = s.status;
      if (s.last_seq > store.seq) { store.seq = s.last_seq; persist(); }
      var c = s.candidate;
      $("who").textContent = [c.name, c.admission_number, c.room ? fmt(L.get("seat"), {room: c.room, seat: c.seat || ""}) : ""]
        .filter(Boolean).join(" · ");
      if (FINISHED[status]) {
        finish(status === "submitted" ? (weSubmitted ? "submitted" : "time-up") : status, s);
        return;
      }
      showNotice(s.message);
      show($("paused-banner"), status === "paused");
      $("paused-message").textContent = status === "paused" && s.message ? s.message : "";
      if (was === "paused" && status === "in_progress") { clearRetry(); pump(); }
      if (was !== status && examShown) poll();  // look again sooner while paused
      lock();
      tick();
    }
    function showNotice(message) {
      var box = $("notice");
      if (!message || status === "paused" || message === dismissed) { show(box, false); return; }
      $("notice-text").textContent = message;
      show(box, true);
    }
    function fetchState() {
      return call("GET", urls.state, undefined, token).then(function (res) {
        if (stopped) return null;
        if (res.status === 200) { reachable(true); applyState(res.data); return res.data; }
        if (res.status === 401) { authFailed(res.data); return null; }
        return null;
      }, function () { reachable(false); return null; });
    }
    function poll() {
      if (pollTimer) clearTimeout(pollTimer);
      pollTimer = setTimeout(function () {
        pollTimer = null;
        if (stopped) return;
        fetchState().then(function () { if (!stopped) poll(); });
      }, status === "paused" ? 5000 : 15000);
    }

    // --- getting in ---
    function boot() {
      showScreen("screen-loading");
      call("GET", urls.state, undefined, token).then(function (res) {
        if (res.status === 401) { authFailed(res.data); return; }
        if (res.status !== 200) { retryBoot(); return; }
        reachable(true);
        applyState(res.data);
        if (stopped) return;
        if (status === "not_started") instructions(res.data); else loadForm();
      }, retryBoot);
    }
    function retryBoot() {
      $("loading-text").textContent = L.get("retrying");
      setTimeout(boot, 3000);
    }
    function instructions(s) {
      $("ins-candidate").textContent = s.candidate.name + " · " + s.candidate.admission_number;
      $("ins-seat").textContent = fmt(L.get("seat"), {room: s.candidate.room || "", seat: s.candidate.seat || ""});
      $("ins-title").textContent = s.session.title;
      $("ins-minutes").textContent = fmt(L.get("minutes"), {minutes: s.session.minutes});
      $("ins-remaining").textContent = clock(s.remaining_seconds);
      $("ins-total").textContent = String(s.total);
      showScreen("screen-instructions");
      $("start").focus();
    }
    $("start").addEventListener("click", function () {
      var button = this, error = $("start-error");
      button.disabled = true;
      call("POST", urls.start, {}, token).then(function (res) {
        button.disabled = false;
        if (res.status === 401) { authFailed(res.data); return; }
        if (res.status !== 200) { error.textContent = res.data.message || String(res.status); show(error, true); return; }
        applyState(res.data);
        if (!stopped) loadForm();
      }, function () {
        button.disabled = false;
        error.textContent = L.get("network");
        show(error, true);
      });
    });
    function loadForm() {
      call("GET", urls.form, undefined, token).then(function (res) {
        if (res.status === 401) { authFailed(res.data); return; }
        if (res.status !== 200) { retryBoot(); return; }
        applyState(res.data.state);
        if (stopped) return;
        items = res.data.items;
        var known = {};
        items.forEach(function (it) { known[it.uid] = true; });
        answers = {};
        Object.keys(res.data.answers).forEach(function (uid) {
          var a = res.data.answers[uid];
          answers[uid] = {response: a.response.slice(), flagged: !!a.flagged};
        });
        // Changes still queued on this terminal are newer than what the server holds, unless the
        // server has seen that sequence number already (a lost ack, or a newer terminal).
        pendingList().forEach(function (p) {
          if (!known[p.uid] || p.seq <= res.data.state.last_seq) { delete store.pending[p.uid]; return; }
          answers[p.uid] = {response: p.response.slice(), flagged: !!p.flagged};
        });
        persist();
        showExam();
      }, retryBoot);
    }

    // --- the exam screen ---
    function showExam() {
      showScreen("screen-exam");
      examShown = true;
      buildMap();
      var saved = parseInt(read(session, POSITION), 10);
      showItem(isNaN(saved) ? 0 : saved);
      if (!tickTimer) tickTimer = setInterval(tick, 500);
      tick();
      poll();
      pump();
    }
    function locked() { return stopped || timeUp || status !== "in_progress"; }
    function lock() {
      if (!examShown) return;
      fieldset.disabled = locked();
      flagButton.disabled = locked();
      $("submit-open").disabled = locked();
      if (locked() && dialog.open) dialog.close();
    }
    function isAnswered(uid) { return !!(answers[uid] && answers[uid].response.length); }
    function isFlagged(uid) { return !!(answers[uid] && answers[uid].flagged); }
    function itemState(uid) {
      if (rejected[uid]) return "error";
      if (store.pending[uid]) return offline() ? "offline" : "saving";
      return answers[uid] ? "saved" : "idle";
    }
    function statusText(state, uid) {
      if (state === "error") return fmt(L.get("rejected"), {message: rejected[uid]});
      return state === "idle" ? "" : L.get(state);
    }

    function buildMap() {
      mapGrid.replaceChildren();
      items.forEach(function (it, i) {
        var b = el("button", "map-cell", String(it.index));
        b.type = "button";
        b.setAttribute("data-index", String(it.index));
        b.addEventListener("click", function () { showItem(i); });
        mapGrid.appendChild(b);
      });
      renderMap();
    }
    function renderCell(i) {
      var it = items[i], b = mapGrid.children[i];
      if (!b) return;
      var answered = isAnswered(it.uid), flagged = isFlagged(it.uid), state = itemState(it.uid);
      b.classList.toggle("answered", answered);
      b.classList.toggle("flagged", flagged);
      b.classList.toggle("current", i === current);
      b.classList.toggle("pending", state === "saving" || state === "offline");
      b.classList.toggle("error", state === "error");
      if (i === current) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
      var words = [fmt(L.get("question"), {n: it.index})];
      if (answered) words.push(L.get("answered"));
      if (flagged) words.push(L.get("flagged"));
      b.setAttribute("aria-label", words.join(", "));
    }
    function renderMap() {
      for (var i = 0; i < items.length; i++) renderCell(i);
      var count = items.filter(function (it) { return isAnswered(it.uid); }).length;
      $("map-count").textContent = fmt(L.get("answered-count"), {answered: count, total: items.length});
      renderStatus();
    }
    function renderStatus() {
      var n = pendingCount(), state = n === 0 ? "saved" : offline() ? "offline" : "saving";
      if (n === 0 && Object.keys(rejected).length) state = "error";
      saveStatus.setAttribute("data-state", state);
      saveStatus.textContent = state === "error" ? fmt(L.get("rejected"), {message: rejected[Object.keys(rejected)[0]]}) : L.get(state);
      show($("offline-banner"), offline() && !stopped);
      if (items.length) {
        var uid = items[current].uid, itemStatus = $("item-status"), s = itemState(uid);
        itemStatus.setAttribute("data-state", s);
        itemStatus.textContent = statusText(s, uid);
      }
    }

    function showItem(i) {
      if (!items.length) return;
      var before = current;
      current = Math.max(0, Math.min(items.length - 1, i));
      write(session, POSITION, String(current));
      var it = items[current], a = answers[it.uid] || {response: [], flagged: false};
      var multiple = it.type === "multiple_choice";
      $("item").setAttribute("data-uid", it.uid);
      $("item").setAttribute("data-type", it.type);
      $("item-number").textContent = fmt(L.get("question"), {n: it.index});
      $("item-type").textContent = L.get("type-" + it.type) || it.type;
      $("item-points").textContent = fmt(L.get("points"), {points: it.points});
      // The stem is HTML sanitised by the server when the bank was imported; everything else
      // the server sends is inserted as text.
      $("item-stem").innerHTML = it.stem;
      optionList.replaceChildren();
      it.options.forEach(function (o, k) {
        var letter = String.fromCharCode(65 + k);
        var label = el("label", "option");
        var input = el("input");
        input.type = multiple ? "checkbox" : "radio";
        input.name = "answer";
        input.value = o.key;
        input.checked = a.response.indexOf(o.key) >= 0;
        input.addEventListener("change", onOptionChange);
        label.setAttribute("data-letter", letter);
        label.appendChild(input);
        label.appendChild(el("span", "letter", letter));
        label.appendChild(el("span", "text", o.text));
        optionList.appendChild(label);
      });
      renderFlag();
      $("prev").disabled = current === 0;
      $("next").disabled = current === items.length - 1;
      renderCell(before);
      renderCell(current);
      renderStatus();
      lock();
    }
    function renderFlag() {
      var flagged = isFlagged(items[current].uid);
      flagButton.setAttribute("aria-pressed", flagged ? "true" : "false");
      flagButton.textContent = flagged ? L.get("unflag") : L.get("flag");
      show($("item-flag-mark"), flagged);
    }
    function chosen() {
      var out = [];
      Array.prototype.forEach.call(optionList.querySelectorAll("input"), function (input) {
        if (input.checked) out.push(input.value);
      });
      return out;
    }
    function onOptionChange() {
      if (locked()) return;
      var uid = items[current].uid;
      change(uid, chosen(), isFlagged(uid));
    }
    function chooseByPosition(k) {
      var inputs = optionList.querySelectorAll("input");
      if (locked() || k < 0 || k >= inputs.length) return;
      var input = inputs[k];
      input.checked = input.type === "checkbox" ? !input.checked : true;
      onOptionChange();
    }
    function toggleFlag() {
      if (locked()) return;
      var uid = items[current].uid, a = answers[uid] || {response: [], flagged: false};
      change(uid, a.response.slice(), !a.flagged);
      renderFlag();
    }

    // --- saving ---
    function change(uid, response, flagged) {
      answers[uid] = {response: response, flagged: flagged};
      store.seq += 1;
      store.pending[uid] = {uid: uid, seq: store.seq, response: response, flagged: flagged};
      delete rejected[uid];
      persist();  // on disk before it goes on the wire
      renderMap();
      pump();
    }
    function clearRetry() {
      if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
      backoff = 0;
    }
    function retryLater() {
      if (retryTimer || stopped) return;
      var delay = Math.min(1000 * Math.pow(2, backoff), 5000);
      backoff += 1;
      retryTimer = setTimeout(function () { retryTimer = null; pump(); }, delay);
    }
    function reachable(ok) {
      var was = offline();
      unreachable = !ok;
      if (ok) browserOffline = false;
      if (was !== offline() && examShown) renderMap();
    }
    function acked(uid, seq) {
      var p = store.pending[uid];
      if (p && p.seq <= seq) { delete store.pending[uid]; persist(); return true; }
      return false;
    }
    // One change in flight at a time, oldest sequence number first.
    function pump() {
      if (stopped || sending || retryTimer || status === "paused") { if (examShown) renderStatus(); return; }
      var next = pendingList()[0];
      if (!next) { if (examShown) renderStatus(); return; }
      sending = next;
      renderStatus();
      var url = urls.answer.replace("__uid__", encodeURIComponent(next.uid));
      call("PUT", url, {seq: next.seq, response: next.response, flagged: next.flagged}, token, SAVE_TIMEOUT)
        .then(function (res) {
          sending = null;
          if (stopped) return;
          var d = res.data, code = res.status;
          reachable(true);
          if (code === 200) {
            backoff = 0;
            var done = acked(next.uid, d.ack);
            followClock(d.remaining_seconds);
            if (!d.applied && done) resync(next.uid);
            renderMap();
            pump();
          } else if (code === 401) {
            authFailed(d);
          } else if (code === 409) {
            finishFromServer(d.error === "time_up" ? "time-up" : null);
          } else if (code === 423 || code === 403) {
            fetchState();
            retryLater();
            renderStatus();
          } else if (code === 400 || code === 404 || code === 422) {
            rejected[next.uid] = d.message || String(code);
            if (store.pending[next.uid] && store.pending[next.uid].seq === next.seq) {
              delete store.pending[next.uid];
              persist();
            }
            renderMap();
            pump();
          } else {
            retryLater();  // 5xx and anything unexpected: keep it and try again
            renderStatus();
          }
        }, function () {
          sending = null;
          if (stopped) return;
          reachable(false);
          retryLater();
          renderStatus();
        });
    }
    // An ack carries the time left; a deadline that moved (extra time) brings the notice with it.
    function followClock(seconds) {
      if (typeof seconds !== "number" || status !== "in_progress") return;
      var due = serverNow() + seconds * 1000;
      if (deadline === null || Math.abs(due - deadline) > 2000) {
        var later = deadline !== null && due - deadline > 2000;
        deadline = due;
        tick();
        if (later) fetchState();
      }
    }
    // The server kept a newer change for this item (made on another terminal): show its copy.
    function resync(uid) {
      if (syncing) return;
      syncing = true;
      call("GET", urls.form, undefined, token).then(function (res) {
        syncing = false;
        if (res.status !== 200 || stopped) return;
        var a = res.data.answers[uid];
        if (!store.pending[uid]) {
          answers[uid] = a ? {response: a.response.slice(), flagged: !!a.flagged} : undefined;
          if (!a) delete answers[uid];
          if (items[current].uid === uid) showItem(current); else renderMap();
        }
      }, function () { syncing = false; });
    }
    function flush(ms) {
      return new Promise(function (resolve, reject) {
        var until = Date.now() + ms;
        clearRetry();
        pump();
        (function check() {
          if (stopped) { reject(new Error("stopped")); return; }
          if (!sending && pendingCount() === 0) { resolve(); return; }
          if (Date.now() > until) { reject(new Error("timeout")); return; }
          if (!sending && !retryTimer) pump();
          setTimeout(check, 100);
        })();
      });
    }

    // --- the end ---
    function onTimeUp() {
      if (timeUp) return;
      timeUp = true;
      lock();
      var ask = function () {
        fetchState().then(function (s) {
          if (stopped) return;
          if (s && s.status === "in_progress" && s.remaining_seconds > 1) { timeUp = false; lock(); return; }
          finish("time-up", s);
        });
      };
      flush(10000).then(ask, ask);
    }
    function finishFromServer(kind) {
      fetchState().then(function () { if (!stopped) finish(kind || "submitted"); });
    }
    function authFailed(d) {
      if (d && d.error === "moved") { finish("moved"); return; }
      stopped = true;
      remove(session, TOKEN);
      window.location.replace(root.dataset.login);
    }
    function finish(kind, s) {
      if (stopped && kind !== "moved") return;
      stopped = true;
      [pollTimer, retryTimer].forEach(function (t) { if (t) clearTimeout(t); });
      if (tickTimer) clearInterval(tickTimer);
      if (dialog.open) dialog.close();
      if (queueKey) remove(local, queueKey);  // nothing queued here can be saved any more
      remove(session, TOKEN);
      remove(session, POSITION);
      ["offline-banner", "notice", "paused-banner"].forEach(function (id) { show($(id), false); });
      var screen = $("screen-finished");
      screen.setAttribute("data-kind", kind);
      $("finished-title").textContent = L.get(kind + "-title");
      $("finished-text").textContent = L.get(kind);
      var state = s || lastState;
      $("finished-detail").textContent = state && kind !== "moved"
        ? fmt(L.get("finished-detail"), {answered: state.answered, total: state.total}) : "";
      showScreen("screen-finished");
    }

    // --- submitting ---
    function numberButtons(box, indexes) {
      box.replaceChildren();
      if (!indexes.length) { box.appendChild(el("span", "muted", L.get("none"))); return; }
      indexes.forEach(function (i) {
        var b = el("button", "number", String(items[i].index));
        b.type = "button";
        b.addEventListener("click", function () { dialog.close(); showItem(i); });
        box.appendChild(b);
      });
    }
    $("submit-open").addEventListener("click", function () {
      if (locked()) return;
      var unanswered = [], flagged = [];
      items.forEach(function (it, i) {
        if (!isAnswered(it.uid)) unanswered.push(i);
        if (isFlagged(it.uid)) flagged.push(i);
      });
      $("confirm-summary").textContent = fmt(L.get("answered-count"),
        {answered: items.length - unanswered.length, total: items.length});
      numberButtons($("confirm-unanswered"), unanswered);
      numberButtons($("confirm-flagged"), flagged);
      show($("confirm-error"), false);
      $("submit-confirm").disabled = false;
      $("submit-confirm").textContent = L.get("submit-now");
      dialog.showModal();
      $("submit-cancel").focus();
    });
    $("submit-cancel").addEventListener("click", function () { dialog.close(); });
    $("submit-confirm").addEventListener("click", function () {
      var button = this, error = $("confirm-error");
      button.disabled = true;
      button.textContent = L.get("submitting");
      show(error, false);
      function fail(text) {
        if (stopped) return;
        button.disabled = false;
        button.textContent = L.get("submit-now");
        error.textContent = text;
        show(error, true);
      }
      flush(10000).then(function () {
        return call("POST", urls.submit, {seq: store.seq}, token).then(function (res) {
          if (res.status === 200) { weSubmitted = true; applyState(res.data); return; }
          if (res.status === 401) { authFailed(res.data); return; }
          fail(res.data.message || String(res.status));
        }, function () { reachable(false); fail(L.get("flush-failed")); });
      }, function () { fail(L.get("flush-failed")); });
    });

    // --- keyboard, text size, network events ---
    document.addEventListener("keydown", function (ev) {
      if (!examShown || stopped || dialog.open || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      var t = ev.target, tag = t && t.tagName;
      if (tag === "TEXTAREA" || tag === "SELECT" || (t && t.isContentEditable) ||
          (tag === "INPUT" && t.type !== "radio" && t.type !== "checkbox")) return;
      var key = ev.key;
      if (key === "ArrowLeft" || key === "ArrowRight") {
        ev.preventDefault();  // a focused radio would otherwise change the answer
        showItem(current + (key === "ArrowLeft" ? -1 : 1));
      } else if (key === "f" || key === "F") {
        ev.preventDefault();
        toggleFlag();
      } else if (/^[1-9]$/.test(key)) {
        ev.preventDefault();
        chooseByPosition(parseInt(key, 10) - 1);
      } else if (/^[a-hA-H]$/.test(key)) {
        ev.preventDefault();
        chooseByPosition(key.toUpperCase().charCodeAt(0) - 65);
      }
    });
    $("prev").addEventListener("click", function () { showItem(current - 1); });
    $("next").addEventListener("click", function () { showItem(current + 1); });
    flagButton.addEventListener("click", toggleFlag);
    $("notice-close").addEventListener("click", function () {
      dismissed = $("notice-text").textContent;
      show($("notice"), false);
    });

    var font = parseInt(read(local, FONT), 10);
    if (isNaN(font)) font = FONT_DEFAULT;
    function applyFont() {
      font = Math.max(0, Math.min(FONT_STEPS - 1, font));
      for (var i = 0; i < FONT_STEPS; i++) document.documentElement.classList.toggle("font-" + i, i === font);
      write(local, FONT, String(font));
      $("font-down").disabled = font === 0;
      $("font-up").disabled = font === FONT_STEPS - 1;
    }
    $("font-down").addEventListener("click", function () { font -= 1; applyFont(); });
    $("font-up").addEventListener("click", function () { font += 1; applyFont(); });
    applyFont();

    window.addEventListener("online", function () {
      if (stopped) return;
      clearRetry();
      unreachable = browserOffline = false;
      pump();
      fetchState();
    });
    window.addEventListener("offline", function () {
      browserOffline = true;
      if (examShown && !stopped) renderStatus();
    });

    boot();
  }

  var login = $("exam-login");
  if (login) loginPage(login);
  var exam = $("exam");
  if (exam) examPage(exam);
})();
