// The installable board (docs/notifications.md, "Installable board"): registers the
// service worker (/sw.js, scope "/": cached static files and an offline page), and keeps
// the screen awake while the partner is online (Screen Wake Lock), released when they go
// offline or the page is hidden; re-taken when it is shown again. The lock's state is on
// <html data-wake-lock="held|released|unsupported|refused"> for the browser tests.
(() => {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
  }
  const html = document.documentElement;
  if (!("wakeLock" in navigator)) {
    html.dataset.wakeLock = "unsupported";
    return;
  }
  let lock = null;
  const online = () => Boolean(document.querySelector("#availability.is-online"));
  const release = () => {
    if (lock) lock.release().catch(() => {});
    lock = null;
    html.dataset.wakeLock = "released";
  };
  const update = () => {
    if (!online()) {
      release();
      return;
    }
    if (lock || document.visibilityState !== "visible") return;
    navigator.wakeLock.request("screen").then((sentinel) => {
      lock = sentinel;
      html.dataset.wakeLock = "held";
      // The browser drops it when the page is hidden; take it again when it is shown.
      sentinel.addEventListener("release", () => {
        if (lock === sentinel) {
          lock = null;
          html.dataset.wakeLock = "released";
        }
      });
    }).catch(() => { html.dataset.wakeLock = "refused"; });
  };
  document.addEventListener("visibilitychange", update);
  document.addEventListener("htmx:afterSettle", update); // going online or offline swaps #board
  update();
})();
