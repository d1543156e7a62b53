// Maps (Leaflet, static/vendor/leaflet-1.9.4) and the partner's location sharing.
// No inline scripts (CSP): every map reads its data from data- attributes that the
// server renders (templates/includes/map.html) and from the live fragments the
// websocket swaps in (hx-swap-oob), which this file watches. Without tiles (offline,
// or MAP_TILE_URL unreachable) the markers and lines still draw on a plain background.
(function () {
  "use strict";

  const STORE = { radius: 9, color: "#1e3a8a", weight: 2, fillColor: "#3b82f6", fillOpacity: 0.95 };
  const DROP = { radius: 8, color: "#7c2d12", weight: 2, fillColor: "#f97316", fillOpacity: 0.95 };
  const RIDER = { radius: 8, color: "#14532d", weight: 3, fillColor: "#22c55e", fillOpacity: 1 };
  const TRAIL = { color: "#16a34a", weight: 4, opacity: 0.7 };
  const AREA = { color: "#3b82f6", weight: 1, fillOpacity: 0.04, interactive: false };

  function num(value) {
    const n = parseFloat(value);
    return Number.isFinite(n) ? n : null;
  }

  // data-<prefix>-lat/-lng (or data-lat/-lng without a prefix) as [lat, lng], or null.
  function pointOf(element, prefix) {
    const lat = num(element.dataset[prefix ? prefix + "Lat" : "lat"]);
    const lng = num(element.dataset[prefix ? prefix + "Lng" : "lng"]);
    return lat === null || lng === null ? null : [lat, lng];
  }

  function baseMap(element) {
    const store = pointOf(element, "store");
    const map = L.map(element, { scrollWheelZoom: false }).setView(store, 14);
    if (element.dataset.tileUrl) {
      L.tileLayer(element.dataset.tileUrl, { maxZoom: 19, attribution: element.dataset.attribution || "" }).addTo(map);
    }
    L.circleMarker(store, STORE).addTo(map).bindTooltip(element.dataset.storeName || "Store");
    element.classList.add("map-ready");
    return { map, store };
  }

  // Call fn (at most once per task) whenever what it reads may have changed.
  function watch(root, fn) {
    let queued = false;
    const run = () => {
      queued = false;
      fn();
    };
    new MutationObserver(() => {
      if (!queued) {
        queued = true;
        setTimeout(run, 0);
      }
    }).observe(root, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-lat", "data-lng", "data-drop-lat"] });
  }

  // --- the customer's order: store, drop-off, the rider moving live and their trail ---
  function orderMap(element) {
    const { map, store } = baseMap(element);
    const bounds = [store];
    const drop = pointOf(element, "drop");
    if (drop) {
      L.circleMarker(drop, DROP).addTo(map).bindTooltip("Drop-off");
      bounds.push(drop);
    }
    const trail = JSON.parse(element.dataset.trail || "[]");
    const line = L.polyline(trail, TRAIL).addTo(map);
    let rider = null;
    let shown = "";
    function follow() {
      const source = document.querySelector("#" + element.dataset.status + " [data-rider]");
      const at = source && pointOf(source, "");
      const key = at ? at.join(",") : "";
      if (key === shown) return;
      shown = key;
      if (!at) {
        // Delivered, cancelled or no position (yet): no live rider on the map.
        if (rider) rider.remove();
        rider = null;
        delete element.dataset.riderLat;
        delete element.dataset.riderLng;
        return;
      }
      if (rider) rider.setLatLng(at);
      else rider = L.circleMarker(at, RIDER).addTo(map).bindTooltip("Your rider");
      line.addLatLng(at);
      element.dataset.riderLat = String(at[0]); // what the browser tests read
      element.dataset.riderLng = String(at[1]);
    }
    follow();
    map.fitBounds(L.latLngBounds(bounds.concat(trail, rider ? [rider.getLatLng()] : [])).pad(0.25), { maxZoom: 15 });
    watch(document.getElementById("main"), follow);
  }

  // --- checkout: drop or drag a pin, or use the browser's location ---
  function checkoutMap(element) {
    const { map, store } = baseMap(element);
    const radiusKm = num(element.dataset.radiusKm);
    if (radiusKm) L.circle(store, Object.assign({ radius: radiusKm * 1000 }, AREA)).addTo(map);
    const latitude = document.querySelector('[data-pin="latitude"]');
    const longitude = document.querySelector('[data-pin="longitude"]');
    const status = document.getElementById("pin-status");
    let pin = null;

    function place(latlng) {
      const at = L.latLng(latlng);
      if (pin) pin.setLatLng(at);
      else {
        pin = L.marker(at, { draggable: true, autoPan: true, title: "Drop-off", alt: "Drop-off pin" }).addTo(map);
        pin.on("dragend", () => place(pin.getLatLng()));
      }
      latitude.value = at.lat.toFixed(6);
      longitude.value = at.lng.toFixed(6);
      const km = map.distance(store, at) / 1000;
      const outside = radiusKm && km > radiusKm;
      status.textContent = outside
        ? "That is " + km.toFixed(1) + " km from the store: outside the area we deliver to."
        : "Pin set, " + km.toFixed(1) + " km from the store.";
      status.classList.toggle("pin-outside", Boolean(outside));
    }

    if (num(latitude.value) !== null && num(longitude.value) !== null) {
      place([num(latitude.value), num(longitude.value)]);
      map.setView(pin.getLatLng(), 15);
    } else if (radiusKm) {
      map.fitBounds(L.latLng(store).toBounds(radiusKm * 2000));
    }
    map.on("click", (event) => place(event.latlng));

    const button = document.querySelector("[data-use-location]");
    if (button && navigator.geolocation) {
      button.hidden = false;
      button.addEventListener("click", () => {
        status.textContent = "Finding you…";
        navigator.geolocation.getCurrentPosition(
          (position) => {
            place([position.coords.latitude, position.coords.longitude]);
            map.setView(pin.getLatLng(), 16);
          },
          () => {
            status.textContent = "Your location is not available: drop the pin on the map instead.";
          },
          { enableHighAccuracy: true, timeout: 15000 },
        );
      });
    }
  }

  // --- the admins' dashboard: online partners and open orders' drop-offs ---
  function dashboardMap(element) {
    const { map, store } = baseMap(element);
    const partners = new Map();
    const drops = new Map();

    function sync(selector, markers, style, prefix, label) {
      const seen = new Set();
      for (const item of document.querySelectorAll(selector)) {
        const id = item.id;
        const at = pointOf(item, prefix);
        if (!at) continue;
        seen.add(id);
        let marker = markers.get(id);
        if (marker) marker.setLatLng(at);
        else markers.set(id, (marker = L.circleMarker(at, style).addTo(map)));
        marker.bindTooltip(label(item));
      }
      for (const [id, marker] of markers) {
        if (!seen.has(id)) {
          marker.remove();
          markers.delete(id);
        }
      }
    }

    function refresh() {
      sync("#map-partners [data-partner-id]", partners, RIDER, "", (item) => item.textContent.trim());
      sync("#dash-orders [data-drop-lat]", drops, DROP, "drop", (item) => "Drop-off " + item.dataset.ref);
      element.dataset.partnersShown = String(partners.size); // what the browser tests read
      element.dataset.dropsShown = String(drops.size);
      const first = document.querySelector("#map-partners [data-partner-id]");
      element.dataset.firstPartner = first ? first.dataset.lat + "," + first.dataset.lng : "";
    }
    refresh();
    const all = [store].concat([...partners.values(), ...drops.values()].map((marker) => marker.getLatLng()));
    map.fitBounds(L.latLngBounds(all).pad(0.2), { maxZoom: 15 });
    watch(document.getElementById("main"), refresh);
  }

  // --- partners: share the position while the board says so (#share-note) ---
  let socket = null;
  let watchId = null;
  document.addEventListener("htmx:wsOpen", (event) => {
    socket = event.detail.socketWrapper;
  });

  function shareState(text) {
    const state = document.querySelector("[data-share-state]");
    if (state) state.textContent = text;
  }

  function share() {
    const sharing = document.querySelector("[data-share-location]");
    if (sharing && watchId === null && navigator.geolocation) {
      watchId = navigator.geolocation.watchPosition(
        (position) => {
          if (!socket || !document.querySelector("[data-share-location]")) return;
          const c = position.coords;
          socket.send(
            JSON.stringify({
              type: "location",
              lat: c.latitude,
              lng: c.longitude,
              accuracy: c.accuracy,
              heading: Number.isFinite(c.heading) ? c.heading : null,
              speed: Number.isFinite(c.speed) ? c.speed : null,
            }),
          );
          shareState("Last sent " + new Date().toLocaleTimeString() + ".");
        },
        (error) => shareState("Location is off (" + error.message + "): customers see no rider on their map."),
        { enableHighAccuracy: true, maximumAge: 5000 },
      );
    } else if (!sharing && watchId !== null) {
      navigator.geolocation.clearWatch(watchId);
      watchId = null;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const element of document.querySelectorAll("[data-map]")) {
      if (typeof L === "undefined") return;
      const draw = { order: orderMap, checkout: checkoutMap, dashboard: dashboardMap }[element.dataset.map];
      if (draw) draw(element);
    }
  });

  // The board: start and stop sharing as the live fragments add and remove the note.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startSharing);
  else startSharing();
  function startSharing() {
    if (!document.querySelector(".role-partner")) return;
    share();
    new MutationObserver(share).observe(document.body, { subtree: true, childList: true });
  }
})();
