// Global behaviour: keyboard shortcuts shared by every page. Page scripts add their own.
(function () {
  "use strict";

  function typing(event) {
    const el = event.target;
    return el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    if (event.key === "?") {
      const modal = document.getElementById("shortcuts");
      if (modal && window.bootstrap) window.bootstrap.Modal.getOrCreateInstance(modal).show();
      event.preventDefault();
    } else if (event.key === "/") {
      const search = document.querySelector("[data-shortcut='/']");
      if (search) { search.focus(); search.select(); event.preventDefault(); }
    }
  });

  // Ctrl+Enter (Cmd+Enter) submits the form of any textarea marked data-submit-on-ctrl-enter.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    const area = event.target.closest("textarea[data-submit-on-ctrl-enter]");
    if (area && area.form) { event.preventDefault(); area.form.requestSubmit(); }
  });
})();
