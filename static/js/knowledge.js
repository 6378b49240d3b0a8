// Knowledge base on the ticket page: "Insert link" puts a Markdown link to the article into
// the reply composer at the cursor. Delegated once, so htmx swaps need no re-binding.
(function () {
  "use strict";
  if (window.cxKnowledgeInsert) return;
  window.cxKnowledgeInsert = true;

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-kb-insert]");
    if (!button) return;
    const area = document.querySelector("#composer textarea[name='body']");
    if (!area) return;
    const text = button.getAttribute("data-kb-insert");
    const start = area.selectionStart ?? area.value.length;
    const end = area.selectionEnd ?? area.value.length;
    const before = area.value.slice(0, start);
    const spacer = before && !/\s$/.test(before) ? " " : "";
    area.value = before + spacer + text + area.value.slice(end);
    const caret = start + spacer.length + text.length;
    area.focus();
    area.setSelectionRange(caret, caret);
    area.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();
