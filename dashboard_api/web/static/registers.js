// Register pages: the print button (no inline script under the CSP).
"use strict";
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-print]");
  if (button) {
    window.print();
  }
});
