// The dashboard's only script, served as /assets/dashboard.js (no build
// step). Live updates: server-sent events say "something changed", and the
// page re-fetches itself and swaps its live regions; polling when events
// cannot flow; nothing while paused or while the tab is hidden.

/** @internal */
export const clientScript = `"use strict";
(() => {
  const body = document.body;
  const base = body.dataset.base || "";
  const toggle = document.getElementById("live-toggle");
  const label = document.getElementById("live-state");
  const pollMs = 5000;
  const refreshMs = 15000;
  let paused = sessionStorage.getItem("underway.paused") === "1";
  let source = null;
  let poll = null;
  let failures = 0;
  let busy = false;
  let last = 0;
  let queued = null;

  const show = (state) => {
    label.textContent = state;
    body.dataset.liveState = state;
    toggle.setAttribute("aria-pressed", String(paused));
    toggle.title = paused ? "Resume live updates" : "Pause live updates";
  };

  // A region the user is working in (a checked box, a focused field) is
  // left alone until they are done.
  const busyRegion = (region) =>
    region.querySelector("input:checked") !== null || region.contains(document.activeElement);

  const refresh = async () => {
    if (busy) return;
    busy = true;
    last = Date.now();
    try {
      const response = await fetch(location.href, { headers: { "x-underway-refresh": "1" }, credentials: "same-origin" });
      const text = await response.text();
      const fresh = new DOMParser().parseFromString(text, "text/html");
      for (const region of document.querySelectorAll("[data-live-region]")) {
        const next = region.id ? fresh.getElementById(region.id) : null;
        if (next !== null && !busyRegion(region)) region.replaceWith(document.importNode(next, true));
      }
      body.dataset.refreshed = String(last);
    } catch (error) {
      show("offline");
    } finally {
      busy = false;
    }
  };

  // Throughput counts reach the database with each client's next flush
  // (every 5 s), after the change that announced them: one more refresh
  // once they are in, so the chart follows the counts.
  let trailing = null;
  const afterFlush = () => {
    clearTimeout(trailing);
    trailing = setTimeout(() => { trailing = null; soon(); }, 6000);
  };

  // At most one refresh a second, however many notifications arrive.
  const soon = () => {
    if (queued !== null) return;
    const wait = Math.max(0, last + 1000 - Date.now());
    queued = setTimeout(() => { queued = null; void refresh(); }, wait);
  };

  const stop = () => {
    if (source !== null) source.close();
    source = null;
    clearInterval(poll);
    poll = null;
  };

  const startPolling = (interval) => {
    clearInterval(poll);
    poll = setInterval(soon, interval);
  };

  const start = () => {
    stop();
    if (paused) return show("paused");
    if (document.hidden) return show("hidden");
    if (body.dataset.live === "sse" && "EventSource" in window && failures < 3) {
      source = new EventSource(base + "/events");
      source.addEventListener("change", () => { soon(); afterFlush(); });
      source.onopen = () => { failures = 0; show("live"); };
      source.onerror = () => {
        failures += 1;
        if (failures >= 3 || source.readyState === EventSource.CLOSED) {
          source.close();
          source = null;
          show("polling");
          startPolling(pollMs);
        } else show("reconnecting");
      };
      // Claims send no notification: a slow refresh catches them.
      startPolling(refreshMs);
      show("connecting");
    } else {
      show("polling");
      startPolling(pollMs);
    }
  };

  // A page answering a POST (a dry-run count) has no URL to GET again.
  if (body.dataset.live === "off") {
    toggle.hidden = true;
    body.dataset.liveState = "off";
  } else toggle.addEventListener("click", () => {
    paused = !paused;
    sessionStorage.setItem("underway.paused", paused ? "1" : "0");
    start();
    if (!paused) soon();
  });

  document.addEventListener("visibilitychange", () => {
    if (body.dataset.live === "off") return;
    start();
    if (!document.hidden && !paused) soon();
  });

  // "Select all" boxes and confirmations of destructive single actions.
  document.addEventListener("change", (event) => {
    const box = event.target;
    if (box instanceof HTMLInputElement && box.dataset.selectAll !== undefined) {
      for (const other of box.form.querySelectorAll('input[name="ids"]')) other.checked = box.checked;
    }
  });
  document.addEventListener("submit", (event) => {
    const button = event.submitter;
    const question = (button && button.dataset.confirm) || event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  if (body.dataset.live !== "off") start();
})();
`;
