{% autoescape off %}// The board's service worker (dispatch/pwa.py serves it at /sw.js, scope "/").
// Keeps the board's static files and an offline page; pages always come from the
// network (they are live and personal), and the offline page stands in when it is gone.
const CACHE = "quickcommerce-{{ version }}";
const OFFLINE_URL = "{{ offline_url }}";
const ASSETS = [{% for url in assets %}"{{ url }}", {% endfor %}OFFLINE_URL];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key.startsWith("quickcommerce-") && key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(() => caches.match(OFFLINE_URL)));
    return;
  }
  const url = new URL(request.url);
  if (url.origin === self.location.origin && ASSETS.includes(url.pathname)) {
    event.respondWith(caches.match(request).then((cached) => cached || fetch(request)));
  }
});
{% endautoescape %}
