// Small page behaviours that htmx does not cover. No inline scripts (CSP-friendly).
document.addEventListener("htmx:wsOpen", () => document.body.classList.remove("ws-down"));
document.addEventListener("htmx:wsClose", () => document.body.classList.add("ws-down"));
document.addEventListener("htmx:wsError", () => document.body.classList.add("ws-down"));
// Drop live fragments older than what the page already shows (per-order version).
document.addEventListener("htmx:wsBeforeMessage", (event) => {
  const match = /data-version="(\d+)"[^>]*data-ref="([A-Z0-9]+)"|data-ref="([A-Z0-9]+)"[^>]*data-version="(\d+)"/.exec(
    event.detail.message || ""
  );
  if (!match) return;
  const ref = match[2] || match[3];
  const version = Number(match[1] || match[4]);
  const shown = document.querySelector(`[data-ref="${ref}"][data-version]`);
  if (shown && Number(shown.dataset.version) > version) event.preventDefault();
});
