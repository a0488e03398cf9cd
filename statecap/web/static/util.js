/* statecap dashboard: small helpers shared by every view (no framework, no library). */
"use strict";

const SC = (window.SC = window.SC || {});

/** Build a DOM element: el("td", {class: "num"}, "12%", otherNode). Text is never parsed as HTML. */
SC.el = function (tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
};

/** GET (or POST with a JSON body) an API path; rejects with the API's message on an error. */
SC.api = async function (path, body) {
  const opts = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const res = await fetch(path, opts);
  if (!res.ok) {
    let detail = res.status + " " + res.statusText;
    try { detail = (await res.json()).detail || detail; } catch (e) { /* not JSON */ }
    const err = new Error(detail);
    err.status = res.status;
    throw err;
  }
  return res.json();
};

/** An interval {lo, hi} in percent as text: "20.60%" when exact, "6.68–74.40%" otherwise. */
SC.iv = function (d, digits) {
  if (!d) return "–";
  const p = digits === undefined ? 2 : digits;
  if (Math.abs(d.hi - d.lo) < 5e-5) return d.lo.toFixed(p) + "%";
  return d.lo.toFixed(p) + "–" + d.hi.toFixed(p) + "%";
};

/** Money with a scale suffix: 1.2bn, 3.4tn. */
SC.money = function (x, currency) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  const scales = [[1e12, "tn"], [1e9, "bn"], [1e6, "m"]];
  for (const [s, suffix] of scales) if (Math.abs(x) >= s) return (x / s).toFixed(2) + suffix + (currency ? " " + currency : "");
  return x.toFixed(0) + (currency ? " " + currency : "");
};

SC.moneyIv = function (d, currency) {
  if (!d) return "–";
  if (Math.abs(d.hi - d.lo) <= 1e-9 * Math.max(1, Math.abs(d.hi))) return SC.money(d.lo, currency);
  return SC.money(d.lo) + "–" + SC.money(d.hi, currency);
};

SC.kindLabel = {
  state_organ: "state organ", central_soe: "central SOE", local_soe: "local SOE", state_fund: "state fund",
  policy_bank: "policy bank", company: "company", foreign_company: "foreign company", person: "person",
  university: "university", research_institute: "research institute", tech_park: "tech park",
};

SC.kindBadge = function (kind) {
  return SC.el("span", { class: "badge kind-" + kind }, SC.kindLabel[kind] || kind);
};

SC.classLabel = {
  state_controlled: "state-controlled", state_influenced: "state-influenced",
  state_invested: "state-invested", none_known: "no state stake known",
};

/** A state class {class, certainty, definite_class} as a short coloured phrase. */
SC.stateClass = function (c) {
  const text = SC.classLabel[c.class] || c.class;
  const extra = c.certainty === "definite" ? " (definite)" : " (possible; surely " + (SC.classLabel[c.definite_class] || c.definite_class) + ")";
  return SC.el("span", { class: "class-" + c.class }, text + extra);
};

/** A bar drawing [lo, hi] of 0..100: solid to lo, hatched from lo to hi. */
SC.shareBar = function (d) {
  const lo = Math.max(0, Math.min(100, d.lo)), hi = Math.max(lo, Math.min(100, d.hi));
  return SC.el("div", { class: "share-bar", title: SC.iv(d) },
    SC.el("div", { class: "lo", style: "width:" + lo + "%" }),
    SC.el("div", { class: "band", style: "left:" + lo + "%;width:" + (hi - lo) + "%" }));
};

SC.entityLink = function (id, label) {
  return SC.el("a", { href: "#/entity/" + encodeURIComponent(id), "data-entity": id }, label || id);
};

SC.sourceList = function (sources) {
  if (!sources || !sources.length) return SC.el("p", { class: "muted" }, "no source recorded");
  return SC.el("ul", { class: "sources" }, sources.map((s) =>
    SC.el("li", {},
      SC.el("a", { href: s.url, target: "_blank", rel: "noopener noreferrer" }, s.title),
      " — ", s.publisher, s.accessed ? SC.el("span", { class: "muted small" }, " (accessed " + s.accessed + ")") : null)));
};

SC.table = function (cols, rows, opts) {
  const o = opts || {};
  const head = SC.el("tr", {}, cols.map((c) => SC.el("th", { class: c.num ? "num" : null }, c.label)));
  const body = rows.map((r) => {
    const tr = SC.el("tr", { class: o.onclick ? "clickable" : null },
      cols.map((c) => { const v = c.value(r); return SC.el("td", { class: c.num ? "num" : null }, v); }));
    if (o.onclick) tr.addEventListener("click", () => o.onclick(r, tr));
    return tr;
  });
  return SC.el("table", { class: o.class || null }, SC.el("thead", {}, head), SC.el("tbody", {}, body));
};

SC.loading = function (text) { return SC.el("p", { class: "loading" }, text || "loading…"); };
SC.error = function (err) { return SC.el("p", { class: "error", role: "alert" }, String(err.message || err)); };

/** Replace a node's children. */
SC.fill = function (node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
};

/** The side panel (edge sources, path evidence). */
SC.openPanel = function (...children) {
  const panel = document.getElementById("panel");
  SC.fill(document.getElementById("panel-body"), ...children);
  panel.hidden = false;
};
SC.closePanel = function () { document.getElementById("panel").hidden = true; };

/** plotly.js, loaded once, only by the pages that draw charts (served from the plotly pip package). */
SC.plotly = function () {
  if (!SC._plotly) {
    SC._plotly = new Promise((resolve, reject) => {
      if (window.Plotly) return resolve(window.Plotly);
      const s = document.createElement("script");
      s.src = "/assets/plotly.min.js";
      s.onload = () => resolve(window.Plotly);
      s.onerror = () => reject(new Error("could not load plotly.js"));
      document.head.appendChild(s);
    });
  }
  return SC._plotly;
};

SC.plot = async function (node, data, layout, config) {
  const Plotly = await SC.plotly();
  const base = { margin: { l: 60, r: 20, t: 30, b: 50 }, font: { family: "system-ui, sans-serif", size: 12 } };
  await Plotly.newPlot(node, data, Object.assign(base, layout || {}),
    Object.assign({ displaylogo: false, responsive: true, showLink: false }, config || {}));
  return node;
};

/** Search box with suggestions; `onpick(entity)` is called with the chosen result. */
SC.searchBox = function (opts) {
  const o = opts || {};
  const input = SC.el("input", { type: "search", placeholder: o.placeholder || "Search: SMIC, 中芯国际, a USCC, a ticker…", "aria-label": "search entities", autocomplete: "off", id: o.id || null });
  const list = SC.el("ul", { class: "suggestions", hidden: true, role: "listbox" });
  const box = SC.el("div", { class: "search" + (o.big ? " big-search" : "") }, input, list);
  let results = [], sel = -1, seq = 0, timer = null;
  const pick = (r) => { list.hidden = true; input.value = ""; (o.onpick || SC.goEntity)(r); };
  const render = () => {
    SC.fill(list, results.map((r, i) => {
      const li = SC.el("li", { class: i === sel ? "sel" : null, role: "option", "data-id": r.id },
        SC.el("strong", {}, r.name), r.name_zh ? SC.el("span", { class: "zh" }, r.name_zh) : null, " ",
        SC.kindBadge(r.kind), SC.el("span", { class: "muted small" }, r.id));
      li.addEventListener("mousedown", (e) => { e.preventDefault(); pick(r); });
      return li;
    }));
    list.hidden = results.length === 0;
  };
  const query = async () => {
    const q = input.value.trim();
    const mine = ++seq;
    if (!q) { results = []; render(); return; }
    try {
      const r = await SC.api("/api/entities?limit=10&q=" + encodeURIComponent(q));
      if (mine !== seq) return;
      results = r; sel = -1; render();
    } catch (e) { if (mine === seq) { results = []; render(); } }
  };
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(query, 120); });
  input.addEventListener("keydown", async (e) => {
    if (e.key === "ArrowDown") { sel = Math.min(results.length - 1, sel + 1); render(); e.preventDefault(); }
    else if (e.key === "ArrowUp") { sel = Math.max(0, sel - 1); render(); e.preventDefault(); }
    else if (e.key === "Enter") {
      clearTimeout(timer);
      if (!results.length) await query();
      if (results.length) pick(results[Math.max(0, sel)]);
    } else if (e.key === "Escape") { list.hidden = true; }
  });
  input.addEventListener("blur", () => setTimeout(() => { list.hidden = true; }, 150));
  input.addEventListener("focus", () => { if (results.length) list.hidden = false; });
  return box;
};

SC.goEntity = function (r) { location.hash = "#/entity/" + encodeURIComponent(r.id); };

/** Download text or bytes as a file. */
SC.download = function (blob, name) {
  const a = SC.el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
};
