// The partner board's new-order alerts (docs/notifications.md, "Partners"). Loaded by
// templates/dispatch/board.html only; no inline scripts (CSP).
//
// A new order is an .order-card added to #available-orders (pushed live, or in the
// snapshot after a reconnect) whose ref this page has not seen. It alerts only when the
// partner can take it: the board is online (the list exists) and #capacity-note is
// hidden (it shows while the partner is at capacity; static/css/dispatch.css).
// Then: a short sound (Web Audio; the partner turns it on once, with a tap, and the
// board remembers it), a vibration where there is one, the tab title counting new
// orders until the partner looks, and, while the board is in the background, a system
// notification (after the partner allowed them) whose click brings the board back.
// Each alert is also a "board:new-orders" event on document (detail: refs, count,
// sound, vibrated, notified), for the browser tests.
(() => {
  const root = document.getElementById("board-alerts");
  if (!root) return;
  const SOUND_KEY = "quickcommerce.board.sound";
  const soundButton = document.getElementById("alert-sound");
  const notifyButton = document.getElementById("alert-notify");
  const baseTitle = document.title;
  const seen = new Set();
  let unseen = 0;
  let audio = null;

  const cards = (node) => {
    if (!(node instanceof Element)) return [];
    const found = node.matches(".order-card[data-ref]") ? [node] : [];
    return found.concat(Array.from(node.querySelectorAll(".order-card[data-ref]")));
  };
  const canTake = () => {
    const list = document.getElementById("available-orders");
    const note = document.getElementById("capacity-note");
    return Boolean(list) && Boolean(note) && note.hidden;
  };
  const away = () => document.visibilityState !== "visible" || !document.hasFocus();

  // --- sound -----------------------------------------------------------------------
  const soundOn = () => localStorage.getItem(SOUND_KEY) === "on";
  const ensureAudio = () => {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!audio) audio = new Context();
    if (audio.state === "suspended") audio.resume();
    return audio;
  };
  const chime = () => {
    const context = ensureAudio();
    if (!context || context.state !== "running") return false;
    // Two short tones (A5, then E6), 0.12 s each, with a quick fade so they do not click.
    [880, 1318.5].forEach((frequency, i) => {
      const start = context.currentTime + i * 0.16;
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.3, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.12);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(start);
      oscillator.stop(start + 0.13);
    });
    return true;
  };
  const showSound = () => {
    const on = soundOn();
    soundButton.setAttribute("aria-pressed", String(on));
    soundButton.textContent = on ? "Sound on" : "Turn on sound";
  };
  soundButton.addEventListener("click", () => {
    if (soundOn()) {
      localStorage.setItem(SOUND_KEY, "off");
    } else {
      localStorage.setItem(SOUND_KEY, "on");
      ensureAudio(); // this tap is the gesture browsers need before a page may play sound
      chime();
    }
    showSound();
  });
  // Remembered as on: the browser still wants one gesture per page; take the first one.
  const unlock = () => {
    if (soundOn()) ensureAudio();
  };
  document.addEventListener("pointerdown", unlock, { once: true, capture: true });
  document.addEventListener("keydown", unlock, { once: true, capture: true });

  // --- system notifications ------------------------------------------------------------
  const notifications = "Notification" in window;
  const showNotify = () => {
    if (!notifications) {
      notifyButton.hidden = true;
      return;
    }
    const state = Notification.permission;
    notifyButton.hidden = state === "granted";
    notifyButton.disabled = state === "denied";
    notifyButton.textContent = state === "denied" ? "Notifications blocked" : "Turn on notifications";
  };
  if (notifyButton) {
    notifyButton.addEventListener("click", () => {
      if (notifications) Notification.requestPermission().then(showNotify);
    });
  }
  const notify = (fresh) => {
    if (!notifications || Notification.permission !== "granted" || !away()) return false;
    const first = fresh[0];
    const body = fresh.length === 1
      ? `#${first.dataset.ref} · ${first.querySelector(".price")?.textContent || ""} · ${first.querySelector(".area")?.textContent || ""}`
      : `${fresh.length} new orders are waiting.`;
    const notification = new Notification(fresh.length === 1 ? "New order" : "New orders", {
      body,
      tag: "quickcommerce-new-order",
      renotify: true,
    });
    notification.addEventListener("click", () => {
      window.focus();
      notification.close();
    });
    return true;
  };

  // --- the title ------------------------------------------------------------------------
  const showTitle = () => {
    document.title = unseen ? `(${unseen}) New orders · quickcommerce` : baseTitle;
  };
  const looked = () => {
    if (!unseen || away()) return;
    unseen = 0;
    showTitle();
  };
  document.addEventListener("visibilitychange", looked);
  window.addEventListener("focus", looked);
  document.addEventListener("pointerdown", looked, true);
  document.addEventListener("keydown", looked, true);

  // --- new cards -------------------------------------------------------------------------
  const alert = (fresh) => {
    unseen += fresh.length;
    showTitle();
    const sound = soundOn() && chime();
    const vibrated = typeof navigator.vibrate === "function" && navigator.vibrate([200, 100, 200]);
    const notified = notify(fresh);
    document.dispatchEvent(new CustomEvent("board:new-orders", {
      detail: { refs: fresh.map((card) => card.dataset.ref), count: unseen, sound, vibrated: Boolean(vibrated), notified },
    }));
  };
  // The partner's own requests (going online, refreshing) show orders that are not new.
  let quiet = false;
  document.addEventListener("htmx:beforeSwap", () => { quiet = true; });
  document.addEventListener("htmx:afterSettle", () => {
    for (const card of cards(document.body)) seen.add(card.dataset.ref);
    quiet = false;
  });
  const observer = new MutationObserver((records) => {
    const fresh = [];
    for (const record of records) {
      for (const node of record.addedNodes) {
        for (const card of cards(node)) {
          if (seen.has(card.dataset.ref)) continue;
          seen.add(card.dataset.ref);
          if (card.closest("#available-orders")) fresh.push(card);
        }
      }
    }
    if (fresh.length && !quiet && canTake()) alert(fresh);
  });
  for (const card of cards(document.body)) seen.add(card.dataset.ref);
  observer.observe(document.getElementById("main") || document.body, { childList: true, subtree: true });
  showSound();
  showNotify();
  root.hidden = false;
})();
