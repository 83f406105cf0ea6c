// Studies pages: put the keyboard where the next piece of work is, and confirm lasting actions.
(function () {
  "use strict";

  // Today: after a dose is recorded the page reloads with the next due dose's button focused,
  // so Enter records one dose after another; after a weight, the next weight field.
  var today = document.querySelector(".today[data-focus]");
  if (today) {
    var target =
      today.dataset.focus === "weight"
        ? today.querySelector(".weight-input") || today.querySelector(".dose-row:not(.done) button.give")
        : today.querySelector(".dose-row:not(.done) button.give") || today.querySelector(".weight-input");
    if (target) {
      target.focus({ preventScroll: true });
      target.scrollIntoView({ block: "center" });
    }
  }

  document.querySelectorAll("[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.dataset.confirm)) {
        event.preventDefault();
      }
    });
  });
})();
