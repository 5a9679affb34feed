// Certificates pages: the print run's progress bar, and camera scanning on the verify page.
(function () {
  "use strict";

  var print = document.getElementById("print");
  if (print) {
    var bar = document.getElementById("print-bar");
    var status = document.getElementById("print-status");
    var link = document.getElementById("print-download");
    var L = document.getElementById("print-labels").dataset;
    var poll = function () {
      fetch(print.dataset.progress, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (data) {
        var job = data.job;
        link.hidden = !data.printed || (job && job.running);
        if (!job) { return; }
        if (job.running) {
          bar.hidden = false; bar.max = job.total || 1; bar.value = job.done;
          status.textContent = L.printing + " " + job.done + "/" + job.total;
          setTimeout(poll, 1000);
        } else {
          bar.hidden = true;
          status.textContent = job.error ? L.failed + " " + job.error : L.done;
        }
      }, function () { setTimeout(poll, 3000); });
    };
    poll();
  }

  var toggle = document.getElementById("camera-toggle");
  if (toggle) {
    var video = document.getElementById("camera");
    var canvas = document.getElementById("camera-frame");
    var text = document.getElementById("verify-text");
    var labels = document.getElementById("verify-labels").dataset;
    var stream = null;
    var stop = function () {
      if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
      stream = null; video.hidden = true;
    };
    var tick = function () {
      if (!stream) { return; }
      if (video.readyState === video.HAVE_ENOUGH_DATA) {
        canvas.width = video.videoWidth; canvas.height = video.videoHeight;
        var ctx = canvas.getContext("2d");
        ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
        var found = window.jsQR(ctx.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height);
        if (found && found.data) {
          text.value = found.data; stop();
          document.getElementById("verify-form").submit();
          return;
        }
      }
      requestAnimationFrame(tick);
    };
    toggle.addEventListener("click", function () {
      if (stream) { stop(); return; }
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { alert(labels.nocamera); return; }
      navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}}).then(function (s) {
        stream = s; video.srcObject = s; video.hidden = false; video.play(); requestAnimationFrame(tick);
      }, function () { alert(labels.nocamera); });
    });
  }
})();
