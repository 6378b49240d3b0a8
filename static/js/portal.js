// Customer portal: htmx forms marked data-cx-inline-errors get their refusals (400: fix
// what you typed, 409: the ticket changed) swapped in like a success, so the errors show
// next to the fields with what was typed kept.
(function () {
  "use strict";

  document.addEventListener("htmx:beforeSwap", function (event) {
    const status = event.detail.xhr.status;
    if (status !== 400 && status !== 409) return;
    const source = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (source && source.closest("[data-cx-inline-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
