/* statecap dashboard: the router. Pages live at #/, #/entity/ID, #/flows, #/indicators, #/lab, #/data. */
"use strict";

(function () {
  const routes = [
    [/^\/?$/, "home", "home"],
    [/^\/entity\/(.+)$/, "entity", "home"],
    [/^\/flows$/, "flows", "flows"],
    [/^\/indicators$/, "indicators", "indicators"],
    [/^\/lab$/, "lab", "lab"],
    [/^\/data$/, "data", "data"],
  ];

  async function route() {
    const raw = location.hash.replace(/^#/, "") || "/";
    const [path, query] = raw.split("?");
    const params = new URLSearchParams(query || "");
    const main = document.getElementById("main");
    SC.closePanel();
    for (const [re, view, nav] of routes) {
      const m = path.match(re);
      if (!m) continue;
      document.querySelectorAll("header nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === nav));
      document.title = "statecap dashboard";
      main.dataset.view = view;
      const started = performance.now();
      try {
        await SC.views[view](main, m[1] ? decodeURIComponent(m[1]) : null, params);
      } catch (e) {
        SC.fill(main, SC.error(e));
      }
      main.dataset.renderedMs = String(Math.round(performance.now() - started));
      window.scrollTo(0, 0);
      return;
    }
    SC.fill(main, SC.el("p", { class: "error" }, "no such page: " + path));
  }

  document.getElementById("panel-close").addEventListener("click", SC.closePanel);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") SC.closePanel(); });
  SC.fill(document.getElementById("header-search"), SC.searchBox({ id: "header-search-input", placeholder: "search entities…" }));
  window.addEventListener("hashchange", route);
  route();
})();
