// Seat form: post to the chosen candidate's URL.
(function () {
  var form = document.getElementById("seat-form");
  if (!form) return;
  form.addEventListener("submit", function () {
    var who = form.querySelector("[name=admission_number]").value;
    form.action = form.dataset.base + encodeURIComponent(who) + "/seat";
  });
})();
