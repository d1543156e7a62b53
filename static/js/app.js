// Small page behaviours that htmx does not cover. No inline scripts (CSP-friendly).

// The "Reconnecting…" badge: shown while the live socket is down.
let liveRetries = 0;
document.addEventListener("htmx:wsOpen", () => {
  liveRetries = 0;
  document.body.classList.remove("ws-down");
});
document.addEventListener("htmx:wsError", () => document.body.classList.add("ws-down"));
document.addEventListener("htmx:wsClose", (event) => {
  document.body.classList.add("ws-down");
  // The ws extension retries 1006/1011/1012/1013 by itself. Our server's "come back
  // later" (4503: its Redis is away) and a clean server shutdown (1000/1001, say a
  // rolling deploy) need a nudge. 4401 (not signed in) and 4429 (too many sockets)
  // must not loop. Backoff with full jitter, up to 30 s; every reconnect starts with
  // a fresh snapshot from the server.
  const code = event.detail.event && event.detail.event.code;
  if (![1000, 1001, 4503].includes(code) || !event.detail.socketWrapper) return;
  const delay = Math.random() * Math.min(30000, 1000 * 2 ** liveRetries);
  liveRetries += 1;
  setTimeout(() => event.detail.socketWrapper.reconnect(), delay);
});

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

// Live frames carry fragments for every screen of their audience (they are rendered
// once per audience, not per socket: docs/live-updates.md), and an htmx answer may carry
// an out-of-band part the page has already lost (a card the socket removed first). Each
// page keeps what it shows: a fragment whose target is not on this page is dropped here,
// before htmx would log htmx:oobErrorNoTarget. (<body hx-ext="live-targets">.) Then a
// status message about an order (a flash with data-ref, and data-version when known)
// goes once the page shows a later change: a frame about another order, or about the
// same order at a newer version.
function oobTargetExists(element) {
  const swap = element.getAttribute("hx-swap-oob");
  if (swap && swap.indexOf(":") !== -1) {
    return document.querySelector(swap.slice(swap.indexOf(":") + 1)) !== null;
  }
  return element.id !== "" && document.getElementById(element.id) !== null;
}

function retireMessages(content) {
  const messages = document.querySelectorAll(".flash[data-ref]");
  if (!messages.length) return;
  const about = Array.from(content.querySelectorAll("[data-ref]"));
  for (const message of messages) {
    const later = about.some(
      (element) =>
        element.dataset.ref !== message.dataset.ref ||
        (message.dataset.version !== undefined &&
          element.getAttribute("hx-swap-oob") !== "delete" &&
          Number(element.dataset.version) > Number(message.dataset.version)),
    );
    if (later) message.remove();
  }
}

htmx.defineExtension("live-targets", {
  transformResponse(text, xhr) {
    if (xhr && text.indexOf("hx-swap-oob") === -1) return text;
    const template = document.createElement("template");
    template.innerHTML = text;
    // A websocket frame (no xhr): every top-level element is swapped out of band. An
    // htmx answer: only the elements marked hx-swap-oob, at any depth.
    const parts = xhr ? template.content.querySelectorAll("[hx-swap-oob]") : template.content.children;
    let dropped = false;
    for (const element of Array.from(parts)) {
      if (!oobTargetExists(element)) {
        element.remove();
        dropped = true;
      }
    }
    if (!xhr) retireMessages(template.content);
    return dropped ? template.innerHTML : text;
  },
});

// The header's mini-cart (<details class="mini-cart">): its summary is loaded each time
// it opens, and again when the cart badge changes while it is open. A click elsewhere or
// Escape closes it. Without JavaScript the panel holds a link to the cart page.
function loadMiniCart(details) {
  const body = details.querySelector("#mini-cart-body");
  if (body && details.open) htmx.ajax("GET", body.dataset.src, { target: body, swap: "innerHTML" });
}
document.addEventListener(
  "toggle",
  (event) => {
    if (event.target.matches && event.target.matches("details.mini-cart")) loadMiniCart(event.target);
  },
  true,
);
document.addEventListener("htmx:oobAfterSwap", (event) => {
  const details = document.querySelector("details.mini-cart[open]");
  if (details && event.detail.target && event.detail.target.id === "cart-badge") loadMiniCart(details);
});
document.addEventListener("click", (event) => {
  const details = document.querySelector("details.mini-cart[open]");
  if (details && !details.contains(event.target)) details.open = false;
});
document.addEventListener("keydown", (event) => {
  const details = document.querySelector("details.mini-cart[open]");
  if (details && event.key === "Escape") {
    details.open = false;
    details.querySelector("summary").focus();
  }
});
