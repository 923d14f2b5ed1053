// The HTTP-cache lab (/http-cache): loads this page's own resource with the
// policy the learner picked, and tells, for each load, whether the browser
// asked the app or used its own copy.
//
// Two witnesses, because neither alone is enough: the browser's
// PerformanceResourceTiming (transferSize is 0 when its cache answered with
// no request at all) and the app's own count of requests that reached it,
// read before and after each load with cache: "no-store" so that the count
// itself is never a cached copy.
"use strict";

(() => {
  const form = document.getElementById("http-lab");
  if (!form) {
    return;
  }
  const resource = `/http-cache/resource/${form.dataset.resource}`;
  // One year, the longest lifetime the resource accepts.
  const maxSeconds = 31536000;

  const field = (id) => document.getElementById(id);
  const seconds = field("seconds");
  const varyHeader = field("vary-header");
  const varyValue = field("vary-value");
  const policyHeaders = field("policy-headers");
  const policyError = field("policy-error");
  const summary = field("lab-summary");
  const rows = document.querySelector("#loads tbody");
  const buttons = form.querySelectorAll("button");
  const totals = { loads: 0, reached: 0, full: 0, notModified: 0 };

  const chosen = () => form.querySelector("input[name=policy]:checked").value;
  const usesSeconds = (policy) => !["none", "no-store", "no-cache", "no-cache-no-etag", "preset"].includes(policy);

  // The policy on the form as the resource's query, the request headers the
  // page sends, and the response headers the app will answer with.
  function readPolicy() {
    const policy = chosen();
    const query = new URLSearchParams();
    const headers = {};
    let n = "";
    if (usesSeconds(policy)) {
      n = seconds.value.trim();
      if (!/^\d{1,8}$/.test(n) || Number(n) > maxSeconds) {
        return { error: `N must be a whole number of seconds from 0 to ${maxSeconds} (one year).` };
      }
      n = String(Number(n));
    }
    const cacheControl = {
      none: null,
      "no-store": "no-store",
      "no-cache": "no-cache",
      "no-cache-no-etag": "no-cache",
      "max-age": `max-age=${n}`,
      immutable: `max-age=${n}, immutable`,
      private: `private, max-age=${n}`,
      public: `public, max-age=${n}`,
      vary: `max-age=${n}`,
      // An exercise's own policy, from the link that opened the page.
      preset: form.dataset.presetCc,
    }[policy];
    if (cacheControl !== null) {
      query.set("cc", cacheControl);
    }
    const etag = policy !== "no-cache-no-etag";
    if (!etag) {
      query.set("etag", "0");
    }
    let label = cacheControl === null ? "no Cache-Control" : cacheControl;
    let sends = cacheControl === null ? "no Cache-Control" : `Cache-Control: ${cacheControl}`;
    sends += etag ? " · an ETag" : " · no ETag";
    if (policy === "vary") {
      const header = varyHeader.value;
      const value = varyValue.value.trim();
      query.set("vary", header);
      if (value !== "") {
        headers[header] = value;
      }
      sends += ` · Vary: ${header}`;
      label += ` · ${header}: ${value === "" ? "(the browser's own)" : value}`;
    }
    const text = query.toString();
    return { path: text ? `${resource}?${text}` : resource, headers, label, sends };
  }

  function showPolicy() {
    const policy = chosen();
    seconds.disabled = !usesSeconds(policy);
    varyHeader.disabled = varyValue.disabled = policy !== "vary";
    const read = readPolicy();
    policyError.hidden = !read.error;
    policyError.textContent = read.error || "";
    if (read.sends) {
      policyHeaders.textContent = read.sends;
    }
  }

  async function appCount() {
    const response = await fetch(`${resource}/requests`, { cache: "no-store" });
    if (!response.ok) {
      throw new Error(`the app's count answered ${response.status}`);
    }
    return response.json();
  }

  // The browser's timing entry for `url`, which it adds once the body is in.
  async function timingOf(url) {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const entries = performance.getEntriesByName(url, "resource");
      if (entries.length > 0) {
        return entries[entries.length - 1];
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return null;
  }

  async function loadOnce(policy) {
    const before = await appCount();
    const url = new URL(policy.path, window.location.href).href;
    // Only this load's entry is then under its name, and the browser's
    // buffer of entries (250 by default) never fills up.
    performance.clearResourceTimings();
    const started = performance.now();
    // The default cache mode: the browser's HTTP cache decides.
    const response = await fetch(url, { headers: policy.headers });
    const body = await response.json();
    const elapsed = performance.now() - started;
    const timing = await timingOf(url);
    const after = await appCount();
    const reached = after.requests - before.requests;
    const arrived = reached > 0 ? after.recent.slice(-reached).map((request) => request.status) : [];
    return {
      policy,
      reached,
      arrived,
      transferSize: timing ? timing.transferSize : null,
      duration: timing ? timing.duration : elapsed,
      servedBy: response.headers.get("X-Served-By-App"),
      version: body.version,
    };
  }

  // Nothing reached the app, yet bytes crossed the network: a cache between
  // the browser and the app (a proxy) answered.
  const answeredOnTheWay = (load) => load.reached === 0 && load.transferSize > 0;

  function verdict(load) {
    if (answeredOnTheWay(load)) {
      return "From a cache on the way (a proxy): the request never reached the app";
    }
    if (load.reached === 0) {
      return "From the browser's cache: no request";
    }
    if (load.arrived.every((status) => status === 304)) {
      return "Revalidated: the app said 304 Not Modified, the browser used its copy";
    }
    return "Full answer: the app sent 200 and the body";
  }

  // Each cell carries its column's heading, which a phone shows beside it
  // (see style.css) instead of a table too wide for the screen.
  const headings = [...document.querySelectorAll("#loads thead th")].map((th) => th.textContent);

  function cell(row, text, className) {
    const td = row.insertCell();
    td.textContent = text;
    td.dataset.heading = headings[td.cellIndex] || "";
    if (className) {
      td.className = className;
    }
    return td;
  }

  function addRow(load) {
    totals.loads += 1;
    totals.reached += load.reached;
    totals.full += load.arrived.filter((status) => status === 200).length;
    totals.notModified += load.arrived.filter((status) => status === 304).length;
    const row = rows.insertRow();
    row.dataset.reached = String(load.reached);
    row.dataset.statuses = load.arrived.join(",");
    row.dataset.transferSize = String(load.transferSize);
    cell(row, String(totals.loads));
    const code = document.createElement("code");
    code.textContent = load.policy.label;
    cell(row, "").append(code);
    const kind = answeredOnTheWay(load) ? "proxied" : load.reached === 0 ? "cached" : load.arrived.every((status) => status === 304) ? "revalidated" : "network";
    cell(row, verdict(load), `verdict ${kind}`);
    cell(row, load.transferSize === null ? "not reported" : `${load.transferSize} B`);
    cell(row, `${load.duration.toFixed(1)} ms`, "duration");
    cell(row, `#${load.servedBy}, version ${load.version}`);
  }

  function summarize() {
    const plural = (count, one, many) => `${count} ${count === 1 ? one : many}`;
    summary.textContent =
      `You loaded it ${plural(totals.loads, "time", "times")}; ` +
      `${plural(totals.reached, "request", "requests")} reached the app ` +
      `(${plural(totals.full, "full answer", "full answers")}, ${totals.notModified} answered 304).`;
  }

  async function load(times) {
    const policy = readPolicy();
    if (policy.error) {
      showPolicy();
      return;
    }
    buttons.forEach((button) => { button.disabled = true; });
    try {
      for (let index = 0; index < times; index += 1) {
        const done = await loadOnce(policy);
        addRow(done);
        summarize();
        await reportLoad(done);
      }
    } catch (error) {
      summary.textContent = `The load failed: ${error.message}`;
    } finally {
      buttons.forEach((button) => { button.disabled = false; });
    }
  }

  // For a workshop exercise: the app cannot see a load the browser answered
  // by itself, so the page says how many there were (a load with no request
  // to the app and no bytes transferred).
  async function reportLoad(done) {
    if (!form.dataset.reportLoads) {
      return;
    }
    const fromCache = done.reached === 0 && done.transferSize === 0 ? 1 : 0;
    await fetch(`${resource}/loads`, {
      method: "POST",
      cache: "no-store",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ loads: 1, from_cache: fromCache }),
    });
  }

  async function change() {
    try {
      const response = await fetch(`${resource}/change`, { method: "POST", cache: "no-store" });
      const changed = await response.json();
      if (!response.ok) {
        throw new Error(changed.error || `status ${response.status}`);
      }
      const row = rows.insertRow();
      row.className = "changed";
      const td = cell(row, `The resource changed: version ${changed.version}, made at ${changed.made_at}.`);
      td.colSpan = headings.length;
    } catch (error) {
      summary.textContent = `The change failed: ${error.message}`;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load(1);
  });
  field("load-five").addEventListener("click", () => load(5));
  field("change-resource").addEventListener("click", change);
  field("clear-results").addEventListener("click", () => {
    rows.replaceChildren();
    Object.keys(totals).forEach((key) => { totals[key] = 0; });
    summary.textContent = "Nothing loaded yet. Pick a policy and press Load.";
  });
  form.addEventListener("input", showPolicy);
  form.addEventListener("change", showPolicy);
  showPolicy();
})();
