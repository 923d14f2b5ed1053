// The catalogue page's "Fetch" buttons: ask for an item the way a page's
// script would (fetch() in its default cache mode, so the browser's HTTP
// cache may answer), then ask for the truth, and show both.
"use strict";

function cents(value) {
  return (value / 100).toFixed(2);
}

async function fetchItem(button) {
  const item = button.dataset.item;
  const output = document.getElementById("fetched-" + item);
  const clicked = Date.now();
  output.textContent = "…";
  try {
    const cached = await fetch("/catalogue/" + encodeURIComponent(item));
    const answer = await cached.json();
    const truth = await (await fetch("/catalogue/" + encodeURIComponent(item) + "/truth", { cache: "no-store" })).json();
    const fromBrowser = answer.answered_at_ms < clicked - 50;
    const parts = [
      "got " + cents(answer.price_cents),
      "truth " + cents(truth.price_cents),
      answer.price_cents === truth.price_cents ? "" : "STALE",
      fromBrowser
        ? "answered by your browser's copy (made " + Math.round((clicked - answer.answered_at_ms) / 1000) + " s ago)"
        : "answered by the app: X-Cache " + (cached.headers.get("X-Cache") || "?"),
    ];
    output.textContent = parts.filter(Boolean).join(", ");
  } catch (error) {
    output.textContent = "could not fetch: " + error;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button.browser-fetch")) {
    button.addEventListener("click", () => fetchItem(button));
  }
});
