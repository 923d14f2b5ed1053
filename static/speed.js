// The speed table's browser row (/speed): only the browser can time its own
// cache, so this page does. For each of many new addresses it loads the
// value twice; the first load reaches the app and is stored (the answer
// says `private, max-age=...`), the second should never leave the browser.
// PerformanceResourceTiming times the second load, and its transferSize of
// 0 is the proof that it came from the cache: only such loads are counted.
"use strict";

(() => {
  const table = document.getElementById("speed-table");
  const row = document.getElementById("row-browser");
  if (!table || !row || !window.performance || !performance.getEntriesByName) {
    return;
  }
  // Enough for a 99th percentile that is not simply the slowest load.
  const pairs = 100;
  const evidence = document.getElementById("browser-evidence");
  const cell = (name) => row.querySelector(`td.${name}`);

  // Nearest rank, as the app computes its own rows: a time some load took.
  const percentile = (sorted, percent) =>
    sorted[Math.max(1, Math.ceil((sorted.length * percent) / 100)) - 1];

  const text = (ms) => {
    const micros = ms * 1000;
    if (micros < 10) return `${micros.toFixed(2)} µs`;
    if (micros < 1000) return `${micros.toFixed(0)} µs`;
    if (micros < 10000) return `${(micros / 1000).toFixed(2)} ms`;
    return `${(micros / 1000).toFixed(1)} ms`;
  };

  async function loadTimed(url) {
    const response = await fetch(url);
    await response.arrayBuffer();
    const entries = performance.getEntriesByName(new URL(url, location.href).href, "resource");
    return entries[entries.length - 1];
  }

  function drawBar(medianMs, p99Ms) {
    const chart = document.getElementById("speed-chart");
    if (!chart) return;
    const left = Number(chart.dataset.left);
    const right = Number(chart.dataset.right);
    const lowest = Number(chart.dataset.lowestLog10Ns);
    const decades = Number(chart.dataset.decades);
    const x = (ms) => {
      const log = Math.log10(Math.max(ms * 1e6, 1)) - lowest;
      return left + ((right - left) * Math.min(Math.max(log, 0), decades)) / decades;
    };
    const bar = document.getElementById("browser-bar");
    bar.setAttribute("width", (x(medianMs) - left).toFixed(1));
    const p99 = document.getElementById("browser-p99");
    p99.setAttribute("x1", x(p99Ms).toFixed(1));
    p99.setAttribute("x2", x(p99Ms).toFixed(1));
    p99.setAttribute("visibility", "visible");
    const label = document.getElementById("browser-label");
    label.setAttribute("x", (x(medianMs) + 6).toFixed(1));
    label.textContent = `${text(medianMs)} (your browser)`;
  }

  async function measure() {
    // Room for every pair's two entries, so none is dropped from the buffer.
    if (performance.setResourceTimingBufferSize) {
      performance.setResourceTimingBufferSize(4 * pairs + 250);
    }
    const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    const durations = [];
    let notFromCache = 0;
    for (let index = 0; index < pairs; index += 1) {
      const url = `/speed/value/${run}-${index}`;
      await loadTimed(url);
      const second = await loadTimed(url);
      // A negative duration is no measurement (a clock the browser moved,
      // as headless browsers with virtual time do): it is left out.
      if (second && second.transferSize === 0 && second.decodedBodySize > 0 && second.duration >= 0) {
        durations.push(second.duration);
      } else {
        notFromCache += 1;
      }
    }
    performance.clearResourceTimings();
    if (durations.length === 0) {
      evidence.textContent = `None of the ${pairs} second loads came from the cache (transferSize was never 0): this browser did not keep the value, so there is nothing to show.`;
      cell("median").textContent = "–";
      cell("p99").textContent = "–";
      cell("runs").textContent = "0";
      return;
    }
    durations.sort((a, b) => a - b);
    const median = percentile(durations, 50);
    const p99 = percentile(durations, 99);
    cell("median").textContent = text(median);
    cell("p99").textContent = text(p99);
    cell("runs").textContent = String(durations.length);
    evidence.textContent =
      `${durations.length} of ${pairs} second loads had transferSize 0 (from the cache)` +
      (notFromCache ? `; ${notFromCache} reached the network and were left out.` : ".") +
      " Browsers round these times (often to 0.1 ms or coarser) to blunt timing attacks, so a cached load may read as 0.";
    drawBar(median, p99);
  }

  measure().catch((error) => {
    evidence.textContent = `Could not measure: ${error}`;
  });
})();
