// The ticket queue: keyboard (j/k/x/Enter/a), row clicks, a selection that survives the
// 20-second refresh of the rows, and answers to bulk changes. Loaded only on the queue page.
(function () {
  "use strict";

  const selected = new Set();   // ticket numbers (strings) the agent has ticked
  let focusedId = null;         // ticket number of the keyboard-focused row
  let started = false;

  const rowsBody = () => document.getElementById("queue-rows");
  const rows = () => Array.from(document.querySelectorAll("#queue-rows tr[data-ticket]"));
  const boxes = () => Array.from(document.querySelectorAll("#queue-rows input.cx-select"));

  function typing(event) {
    const el = event.target;
    if (el.isContentEditable || ["TEXTAREA", "SELECT"].includes(el.tagName)) return true;
    return el.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(el.type);
  }

  function csrfToken() {
    try {
      const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      if (headers["X-CSRFToken"]) return headers["X-CSRFToken"];
    } catch (e) { /* fall through to the form token */ }
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // --- selection --------------------------------------------------------------------

  function sync() {
    const present = new Set();
    boxes().forEach(function (box) {
      present.add(box.value);
      box.checked = selected.has(box.value);
      box.closest("tr").classList.toggle("cx-row-selected", box.checked);
    });
    // A ticket that left the list (solved, reassigned by someone else) is no longer selected.
    Array.from(selected).forEach(function (id) { if (!present.has(id)) selected.delete(id); });
    rows().forEach(function (row) {
      row.classList.toggle("cx-row-focus", row.dataset.ticket === focusedId);
    });
    const count = document.getElementById("bulk-count");
    if (count) count.textContent = selected.size + " selected";
    const bar = document.getElementById("bulk-form");
    if (bar) {
      bar.classList.toggle("cx-bulk-active", selected.size > 0);
      bar.classList.toggle("cx-bulk-idle", selected.size === 0);
    }
    const apply = document.getElementById("bulk-apply");
    if (apply) apply.disabled = selected.size === 0;
    const all = document.getElementById("select-all");
    if (all) {
      const total = boxes().length;
      all.checked = total > 0 && selected.size === total;
      all.indeterminate = selected.size > 0 && selected.size < total;
    }
  }

  function setSelected(box, on) {
    box.checked = on;
    if (on) selected.add(box.value); else selected.delete(box.value);
  }

  document.addEventListener("change", function (event) {
    const el = event.target;
    if (el.matches("#queue-rows input.cx-select")) {
      setSelected(el, el.checked);
      sync();
    } else if (el.id === "select-all") {
      boxes().forEach(function (box) { setSelected(box, el.checked); });
      sync();
    }
  });

  // --- rows: click and keyboard focus -------------------------------------------------

  function focusRow(row) {
    if (!row) return;
    focusedId = row.dataset.ticket;
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
    sync();
  }

  function focusedRow() {
    return rows().find(function (row) { return row.dataset.ticket === focusedId; }) || null;
  }

  document.addEventListener("click", function (event) {
    const row = event.target.closest("#queue-rows tr[data-href]");
    if (!row) return;
    focusedId = row.dataset.ticket;
    if (event.target.closest("a, button, input, label, select, textarea")) { sync(); return; }
    if (event.target.closest(".cx-col-check")) {
      // The whole first cell ticks the box: a bigger target than the box itself.
      const box = row.querySelector("input.cx-select");
      setSelected(box, !box.checked);
      sync();
      return;
    }
    if (event.ctrlKey || event.metaKey) window.open(row.dataset.href, "_blank");
    else window.location.assign(row.dataset.href);
  });

  document.addEventListener("auxclick", function (event) {
    const row = event.target.closest("#queue-rows tr[data-href]");
    if (row && event.button === 1 && !event.target.closest("a")) {
      window.open(row.dataset.href, "_blank");
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    if (document.querySelector(".modal.show")) return;
    const list = rows();
    if (!list.length) return;
    const current = focusedRow();
    const index = current ? list.indexOf(current) : -1;
    switch (event.key) {
      case "j":
        focusRow(list[Math.min(index + 1, list.length - 1)]);
        break;
      case "k":
        focusRow(list[Math.max(index - 1, 0)]);
        break;
      case "x":
        if (!current) return;
        setSelected(current.querySelector("input.cx-select"),
                    !current.querySelector("input.cx-select").checked);
        sync();
        break;
      case "Enter":
        // Links and buttons keep their own Enter; a focused row opens.
        if (!current || event.target.closest("a, button, input")) return;
        window.location.assign(current.dataset.href);
        break;
      case "a":
        if (!current) return;
        claim(current);
        break;
      default:
        return;
    }
    event.preventDefault();
  });

  // --- "a": assign the focused ticket to me -------------------------------------------

  async function claim(row) {
    const number = row.dataset.ticket;
    let response;
    try {
      response = await fetch(row.dataset.claimUrl, {
        method: "POST",
        headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json, text/plain, */*" },
        credentials: "same-origin",
      });
    } catch (e) {
      toast("danger", "Could not reach the server to assign #" + number + ". Try again.");
      return;
    }
    // The claim endpoint answers a script with a short plain-text sentence (or JSON).
    const said = await reason(response);
    if (response.ok) {
      toast("success", said || ("You have ticket #" + number + "."));
    } else {
      toast(response.status === 409 ? "warning" : "danger",
            said || ("Could not assign #" + number + " to you (error " + response.status + ")."));
    }
    refresh();
  }

  async function reason(response) {
    const type = response.headers.get("Content-Type") || "";
    try {
      if (type.includes("json")) {
        const data = await response.json();
        return data.detail || data.error || data.message || "";
      }
      if (type.includes("text/plain")) return (await response.text()).slice(0, 300);
    } catch (e) { /* no readable reason */ }
    return "";
  }

  function refresh() {
    if (window.htmx) window.htmx.trigger(document.body, "queue:refresh");
  }

  function toast(level, text) {
    const box = document.getElementById("queue-toasts");
    if (!box) return;
    const alert = document.createElement("div");
    alert.className = "alert alert-" + level + " alert-dismissible shadow-sm py-2 mb-0 cx-toast";
    alert.setAttribute("role", level === "danger" ? "alert" : "status");
    const span = document.createElement("span");
    span.textContent = text;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("data-bs-dismiss", "alert");
    close.setAttribute("aria-label", "Close");
    alert.append(span, close);
    box.replaceChildren(alert);
  }

  // --- htmx: keep the selection across refreshes, show refused changes ----------------

  document.addEventListener("htmx:beforeRequest", function (event) {
    // No polling while the tab is hidden; it refreshes when the agent comes back.
    if (event.detail.elt === rowsBody() && document.hidden && event.detail.requestConfig &&
        event.detail.requestConfig.verb === "get") {
      event.preventDefault();
    }
  });

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refresh();
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    const xhr = event.detail.xhr;
    // A refused change (400) comes back retargeted to the toasts: show it.
    if (xhr.status === 400 && xhr.getResponseHeader("HX-Retarget")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
      return;
    }
    const source = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (xhr.status === 200 && source && source.id === "bulk-form") {
      selected.clear();
      source.reset();
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    const source = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (source && source.tagName === "FORM") {
      toast("danger", "The change could not be saved (error " + event.detail.xhr.status + "). Nothing was lost; try again.");
    } else {
      const status = document.getElementById("queue-status");
      if (status) status.classList.add("text-danger");
    }
  });

  document.addEventListener("htmx:sendError", function (event) {
    const source = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (source && source.tagName === "FORM") {
      toast("danger", "Could not reach the server; the change was not sent. Try again.");
    }
  });

  document.addEventListener("htmx:load", function () { start(); sync(); });

  // --- small things -------------------------------------------------------------------

  document.addEventListener("submit", function (event) {
    const message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  function start() {
    if (started) return;
    started = true;
    boxes().forEach(function (box) { if (box.checked) selected.add(box.value); });
    sync();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
