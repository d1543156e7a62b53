// Small page behaviours that htmx does not cover. No inline scripts (CSP-friendly).

// The "Reconnecting…" badge: shown while the live socket is down.
document.addEventListener("htmx:wsOpen", () => document.body.classList.remove("ws-down"));
document.addEventListener("htmx:wsClose", () => document.body.classList.add("ws-down"));
document.addEventListener("htmx:wsError", () => document.body.classList.add("ws-down"));

// Drop a live frame that is older than what the page already shows. Every order
// element carries data-ref and data-version (bumped by every change); a frame whose
// element has a lower version than the element with the same id on the page is stale.
document.addEventListener("htmx:wsBeforeMessage", (event) => {
  const message = event.detail.message;
  if (typeof message !== "string" || message.indexOf("data-version") === -1) return;
  const template = document.createElement("template");
  template.innerHTML = message;
  for (const incoming of template.content.querySelectorAll("[id][data-version]")) {
    const shown = document.getElementById(incoming.id);
    if (shown && shown.dataset.version && Number(shown.dataset.version) > Number(incoming.dataset.version)) {
      event.preventDefault();
      return;
    }
  }
});
