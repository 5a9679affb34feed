// The practical scoring form: a running total while marks are typed, and quick "0" / "full"
// buttons for each criterion. The server checks every mark again; this only helps the examiner.
(function () {
  "use strict";
  var form = document.getElementById("score-form");
  if (!form) return;
  var inputs = Array.prototype.slice.call(form.querySelectorAll("input.points"));
  var output = document.getElementById("running-total");
  var line = output ? output.parentNode : null;

  function update() {
    var total = 0, complete = true, over = false;
    inputs.forEach(function (input) {
      if (input.value === "") { complete = false; return; }
      var value = Number(input.value);
      if (!isFinite(value)) { complete = false; return; }
      if (value < 0 || value > Number(input.dataset.max)) over = true;
      total += value;
    });
    if (!output) return;
    output.textContent = (Math.round(total * 100) / 100) + (complete ? "" : " …");
    if (line) line.classList.toggle("over", over);
  }

  inputs.forEach(function (input) { input.addEventListener("input", update); });
  Array.prototype.forEach.call(form.querySelectorAll("button.quick"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var target = document.getElementById(button.dataset.target);
      target.value = button.dataset.value;
      update();
    });
  });
  update();
})();
