// Optional extras for cachelab's pages. Every page works without this file;
// it adds a browser-measured round trip and live updating of the dashboard.
"use strict";

// The server's whole time for a request, in milliseconds: the `total` of
// its Server-Timing header (`cache;desc="memory hit";dur=0.004, total;dur=0.031`).
function serverTotalMs(response) {
  const timing = response.headers.get("Server-Timing") || "";
  const total = timing.split(",").map((metric) => metric.trim())
    .find((metric) => metric === "total" || metric.startsWith("total;"));
  const duration = total && total.match(/;dur=([0-9.]+)/);
  return duration ? Number(duration[1]) : NaN;
}

// How this answer came about, from its headers: the body holds the value
// only. X-Cache says hit or miss; Cache-Status says `collapsed` when the
// request waited for another one's computation (RFC 9211); X-Cache-Detail
// counts the steps a miss computed itself.
function howAnswered(response) {
  const hit = response.headers.get("X-Cache") === "HIT";
  const waited = /;\s*collapsed/.test(response.headers.get("Cache-Status") || "");
  const steps = (response.headers.get("X-Cache-Detail") || "").match(/computed (\d+) step/);
  return { hit, waited, steps: steps ? Number(steps[1]) : 0 };
}

// Times one request from the browser with performance.now() and shows it
// beside the time the server reported for the same request.
function timeRoundTrip(button) {
  const output = document.getElementById("roundtrip");
  const url = button.dataset.roundtrip;
  const started = performance.now();
  fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
    .then((response) => response.arrayBuffer().then(() => response))
    .then((response) => {
      const roundTrip = performance.now() - started;
      const verdict = response.headers.get("X-Cache") || "?";
      output.textContent =
        `${verdict}: round trip ${roundTrip.toFixed(2)} ms in this browser, ` +
        `of which ${serverTotalMs(response).toFixed(3)} ms inside the server.`;
    })
    .catch((error) => {
      output.textContent = `The request failed: ${error.message}`;
    });
}

// Fires several requests for one cold factorial at the same moment, then
// tells how many did the work and how many waited for it. Browsers open at
// most six connections to one server, so a couple of requests may only
// start once the first answers arrive, and are hits.
function stampede(button) {
  // Six at most: a browser opens no more than six HTTP/1.1 connections to
  // one server, so a seventh would only start once one of these had its answer.
  const count = Number(button.dataset.stampede) || 6;
  const n = Number(button.dataset.n) || 1000 + Math.floor(Math.random() * 8000);
  const output = document.getElementById("stampede-result");
  output.textContent = `Sending ${count} requests for ${n}! …`;
  const requests = Array.from({ length: count }, () =>
    fetch(`/factorial/${n}`, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then((response) => response.arrayBuffer().then(() => howAnswered(response))));
  Promise.all(requests)
    .then((answers) => {
      const worked = answers.filter((answer) => !answer.hit && !answer.waited);
      const waited = answers.filter((answer) => answer.waited).length;
      const late = answers.filter((answer) => answer.hit).length;
      const plural = (count, one, many) => `${count} ${count === 1 ? one : many}`;
      if (worked.length === 0) {
        output.textContent =
          `${n}! was already in memory: all ${plural(late, "request was a hit", "requests were hits")}. ` +
          "To see a stampede again, clear the memory cache first.";
        return;
      }
      const steps = worked.map((answer) => plural(answer.steps, "step", "steps")).join(", ");
      output.textContent =
        `${n}!: ${plural(worked.length, "request", "requests")} did the work (${steps}), ` +
        `${waited} waited for it` + (late ? `, ${late} arrived after it was cached.` : ".");
    })
    .catch((error) => {
      output.textContent = `The requests failed: ${error.message}`;
    });
}

// Replaces the dashboard's live section with a fresh copy of the page's.
function refreshSection(selector) {
  fetch(window.location.pathname, { headers: { Accept: "text/html" }, cache: "no-store" })
    .then((response) => response.text())
    .then((html) => {
      const fresh = new DOMParser().parseFromString(html, "text/html").querySelector(selector);
      const current = document.querySelector(selector);
      if (fresh && current) {
        // A list the reader opened stays open through the update.
        current.querySelectorAll("details[id][open]").forEach((open) => {
          const again = fresh.querySelector(`#${open.id}`);
          if (again) {
            again.open = true;
          }
        });
        current.replaceWith(fresh);
      }
    })
    .catch(() => {});
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-roundtrip]").forEach((button) => {
    button.addEventListener("click", () => timeRoundTrip(button));
  });

  document.querySelectorAll("[data-stampede]").forEach((button) => {
    button.addEventListener("click", () => stampede(button));
  });

  const toggle = document.getElementById("auto-refresh");
  if (toggle) {
    let timer = null;
    const apply = () => {
      clearInterval(timer);
      timer = toggle.checked ? setInterval(() => refreshSection(toggle.dataset.refresh), 2000) : null;
      sessionStorage.setItem("cachelab-auto-refresh", toggle.checked ? "on" : "off");
    };
    toggle.checked = sessionStorage.getItem("cachelab-auto-refresh") === "on";
    toggle.addEventListener("change", apply);
    apply();
  }
});
