// The ticket page: r / n shortcuts, the Reply / Internal note toggle, and presence
// ("Alex is replying"). Ctrl+Enter sending is global (app.js, data-submit-on-ctrl-enter).
(function () {
  "use strict";

  function composer() { return document.getElementById("composer"); }

  function typing(event) {
    const el = event.target;
    return el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
  }

  // Keep the composer's look (pale yellow for notes) and labels in step with the toggle.
  function syncMode() {
    const form = composer();
    if (!form) return;
    const note = form.querySelector("input[name='public'][value='0']");
    form.classList.toggle("cx-note", Boolean(note && note.checked));
  }

  function focusComposer(isNote) {
    const form = composer();
    if (!form) return false;
    const radio = form.querySelector("input[name='public'][value='" + (isNote ? "0" : "1") + "']");
    if (radio) radio.checked = true;
    syncMode();
    const area = form.querySelector("textarea[name='body']");
    if (area) {
      area.focus();
      area.setSelectionRange(area.value.length, area.value.length);
    }
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    if (event.key === "r" && focusComposer(false)) event.preventDefault();
    else if (event.key === "n" && focusComposer(true)) event.preventDefault();
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("#composer input[name='public']")) syncMode();
  });

  // --- presence: "replying" while the composer has focus or text, else "viewing" ---------
  let lastSent = 0;
  function setPresence() {
    const state = document.getElementById("presence-state");
    const form = composer();
    if (!state || !form) return;
    const area = form.querySelector("textarea[name='body']");
    const replying = area && (document.activeElement === area || area.value.trim() !== "");
    const next = replying ? "replying" : "viewing";
    const now = Date.now();
    // Tell the others at once when the state changes, otherwise leave it to the 10 s poll.
    if (state.value !== next || now - lastSent > 10000) {
      state.value = next;
      lastSent = now;
      document.body.dispatchEvent(new CustomEvent("cx-presence"));
    }
  }
  document.addEventListener("focusin", function (event) {
    if (event.target.matches("#composer textarea")) setPresence();
  });
  document.addEventListener("focusout", function (event) {
    if (event.target.matches("#composer textarea")) window.setTimeout(setPresence, 0);
  });
  document.addEventListener("input", function (event) {
    if (event.target.matches("#composer textarea")) setPresence();
  });

  // Leaving the page: drop out of the list now rather than when the TTL runs out.
  window.addEventListener("pagehide", function () {
    const page = document.getElementById("ticket");
    if (!page || !page.dataset.presenceUrl) return;
    let token = "";
    try { token = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; }
    catch (error) { token = ""; }
    const body = new URLSearchParams({ state: "left" });
    fetch(page.dataset.presenceUrl, {
      method: "POST", body: body, keepalive: true, credentials: "same-origin",
      headers: { "X-CSRFToken": token },
    }).catch(function () { /* the TTL cleans up */ });
  });

  document.addEventListener("htmx:afterSwap", syncMode);
  document.addEventListener("DOMContentLoaded", syncMode);
})();
