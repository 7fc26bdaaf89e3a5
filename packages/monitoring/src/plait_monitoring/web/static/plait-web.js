// plait monitoring pages: draw the charts, follow clicks on their marks, and keep the
// page current while the workflow runs.
//
// A chart is <div data-chart data-src=URL>: the URL answers {figure, note}, and the
// figure goes to Plotly.react as is (the server composes it). While <body data-live="1">,
// the page polls <body data-version-src> every POLL_MS; when the version changes it
// fetches this page again, swaps in each [data-live] element whose server HTML changed,
// and redraws the charts (Plotly.react keeps the user's zoom: figures set uirevision).
// What is slow to compute (a page or chart of a very large run) is refreshed less often:
// at most once per SLOWDOWN times what it took last, so open tabs never keep the server busy.
"use strict";

(() => {
  const POLL_MS = 2000;
  const SLOWDOWN = 5;
  const CONFIG = { displaylogo: false, responsive: true };
  // the HTML the server last sent for each [data-live] element, by id
  const served = new Map();

  function note(div, text) {
    const p = document.querySelector(`[data-note-for="${div.id}"]`);
    if (p) p.textContent = text || "";
  }

  async function draw(div) {
    const started = performance.now();
    const response = await fetch(div.dataset.src, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${div.dataset.src} answered ${response.status}`);
    const { figure, note: text } = await response.json();
    note(div, text);
    if (!figure) {
      Plotly.purge(div);
      div.hidden = true;
    } else {
      div.hidden = false;
      await Plotly.react(div, figure.data, figure.layout, CONFIG);
      if (!div.dataset.clicks) {
        div.dataset.clicks = "1";
        div.on("plotly_click", (event) => {
          const target = event.points.length ? event.points[0].customdata : null;
          if (typeof target === "string" && target.startsWith("/")) window.location.assign(target);
        });
      }
    }
    div.dataset.drawnAt = String(performance.now());
    div.dataset.loadMs = String(performance.now() - started);
    div.dataset.drawn = String(Number(div.dataset.drawn || 0) + 1);
  }

  // Draw every chart; unless `all`, skip those drawn too recently for what they cost.
  function drawCharts(all) {
    const now = performance.now();
    const due = Array.from(document.querySelectorAll("[data-chart]")).filter(
      (div) =>
        all ||
        !div.dataset.drawnAt ||
        now - Number(div.dataset.drawnAt) >= SLOWDOWN * Number(div.dataset.loadMs),
    );
    return Promise.all(
      due.map((div) => draw(div).catch((error) => console.error(`chart ${div.id}:`, error))),
    );
  }

  function bindToggles() {
    for (const button of document.querySelectorAll("button[data-chart-for]")) {
      button.addEventListener("click", () => {
        const div = document.getElementById(button.dataset.chartFor);
        for (const other of document.querySelectorAll(`button[data-chart-for="${div.id}"]`)) {
          other.setAttribute("aria-pressed", String(other === button));
        }
        div.dataset.src = button.dataset.src;
        draw(div).catch((error) => console.error(`chart ${div.id}:`, error));
      });
    }
  }

  // Swap in what changed; returns how long the page took to come.
  async function refresh() {
    const started = performance.now();
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
    if (!response.ok) throw new Error(`${window.location.href} answered ${response.status}`);
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const took = performance.now() - started;
    for (const element of document.querySelectorAll("[data-live]")) {
      const replacement = fresh.getElementById(element.id);
      if (replacement && replacement.outerHTML !== served.get(element.id)) {
        served.set(element.id, replacement.outerHTML);
        element.replaceWith(document.importNode(replacement, true));
      }
    }
    document.body.dataset.version = fresh.body.dataset.version || "";
    document.body.dataset.live = fresh.body.dataset.live || "0";
    // the last refresh of a run that ended draws everything
    await drawCharts(document.body.dataset.live !== "1");
    return took;
  }

  async function poll() {
    const body = document.body;
    if (body.dataset.live !== "1" || !body.dataset.versionSrc) return;
    let delay = POLL_MS;
    try {
      const response = await fetch(body.dataset.versionSrc, { cache: "no-store" });
      if (response.ok) {
        const { version } = await response.json();
        if (version !== body.dataset.version) delay = Math.max(POLL_MS, SLOWDOWN * (await refresh()));
      }
    } catch (error) {
      console.warn("plait monitoring: could not refresh:", error);
    }
    if (body.dataset.live === "1") window.setTimeout(poll, delay);
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const element of document.querySelectorAll("[data-live]")) {
      served.set(element.id, element.outerHTML);
    }
    bindToggles();
    drawCharts(true);
    window.setTimeout(poll, POLL_MS);
  });
})();
