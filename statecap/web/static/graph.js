/* statecap dashboard: the expandable ownership graph, drawn as SVG by hand (no library).
 *
 * Owners sit above the entity, holdings below. Each node has an ▲ button (load its owners) and
 * a ▼ button (load its holdings), one page at a time; edges carry the stake's share bounds and
 * open their sources when clicked. Data comes from GET /api/entities/{id}/stakes.
 */
"use strict";

(function () {
  const SVGNS = "http://www.w3.org/2000/svg";
  const W = 236, H = 44, GAP_X = 30, GAP_Y = 130, PAGE = 12;
  const COLORS = {
    state_organ: "#c0392b", state_fund: "#e67e22", central_soe: "#d4a017", local_soe: "#d4a017",
    policy_bank: "#a04000", company: "#2c6fbb", foreign_company: "#7f8c8d", person: "#16a085",
  };

  function svg(tag, attrs, ...children) {
    const n = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) n.setAttribute(k, String(v));
    for (const c of children) if (c) n.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    return n;
  }

  function clip(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }

  class OwnershipGraph {
    /**
     * @param {HTMLElement} host where to draw.
     * @param {object} focus {id, name, kind, is_state}.
     * @param {object} opts {asOf}
     */
    constructor(host, focus, opts) {
      this.host = host;
      this.asOf = (opts && opts.asOf) || null;
      this.nodes = new Map();
      this.pairs = new Map();
      this.selected = null;
      this.busy = 0;
      this.scale = 1;
      this.addNode(focus, 0);
      this.focus = focus.id;
      this.svgNode = svg("svg", { class: "ownership", role: "img", "aria-label": "ownership graph" });
      host.appendChild(this.svgNode);
    }

    addNode(p, layer) {
      let n = this.nodes.get(p.id);
      if (!n) {
        n = { id: p.id, name: p.name, kind: p.kind, is_state: !!p.is_state, layer: layer, seq: this.nodes.size,
          owners: { loaded: 0, total: p.owners === undefined ? null : p.owners },
          holdings: { loaded: 0, total: p.holdings === undefined ? null : p.holdings } };
        this.nodes.set(p.id, n);
      } else {
        if (p.owners !== undefined && n.owners.total === null) n.owners.total = p.owners;
        if (p.holdings !== undefined && n.holdings.total === null) n.holdings.total = p.holdings;
      }
      return n;
    }

    /** Load the next page of owners (dir "owners") or holdings ("holdings") of a node. */
    async expand(id, dir) {
      const n = this.nodes.get(id);
      const side = n[dir];
      if (side.total !== null && side.loaded >= side.total) return;
      this.busy++;
      this.host.setAttribute("aria-busy", "true");
      try {
        const q = "/api/entities/" + encodeURIComponent(id) + "/stakes?direction=" + dir + "&limit=" + PAGE +
          "&offset=" + side.loaded + (this.asOf ? "&as_of=" + this.asOf : "");
        const r = await SC.api(q);
        side.total = r.total;
        side.loaded += r.edges.length;
        for (const e of r.edges) {
          if (dir === "owners") {
            this.addNode({ id: e.owner.id, name: e.owner.name, kind: e.owner.kind, is_state: e.owner.is_state,
              owners: e.neighbour_owners, holdings: e.neighbour_holdings }, n.layer - 1);
          } else {
            this.addNode({ id: e.owned.id, name: e.owned.name, kind: e.owned.kind, is_state: e.owned.is_state,
              owners: e.neighbour_owners, holdings: e.neighbour_holdings }, n.layer + 1);
          }
          const key = e.owner.id + "\u0000" + e.owned.id;
          const pair = this.pairs.get(key) || { owner: e.owner.id, owned: e.owned.id, stakes: [] };
          if (!pair.stakes.some((s) => s.stake === e.stake)) pair.stakes.push(e);
          this.pairs.set(key, pair);
        }
      } finally {
        this.busy--;
        if (!this.busy) this.host.removeAttribute("aria-busy");
      }
      this.draw();
    }

    /** Zoom by a factor (0.3x to 2x), keeping the drawing as it is. */
    zoom(factor) {
      this.scale = Math.min(2, Math.max(0.3, this.scale * factor));
      this.draw();
    }

    /** Expand owners breadth-first until a state organ appears or nothing is left (max `rounds`). */
    async expandToState(rounds) {
      for (let i = 0; i < (rounds || 6); i++) {
        if ([...this.nodes.values()].some((n) => n.is_state)) return true;
        const todo = [...this.nodes.values()].filter((n) => n.owners.total === null || n.owners.loaded < n.owners.total);
        if (!todo.length) return false;
        for (const n of todo) await this.expand(n.id, "owners");
      }
      return [...this.nodes.values()].some((n) => n.is_state);
    }

    layout() {
      const layers = new Map();
      for (const n of this.nodes.values()) {
        if (!layers.has(n.layer)) layers.set(n.layer, []);
        layers.get(n.layer).push(n);
      }
      const neighbours = (n, towards) => {
        const out = [];
        for (const p of this.pairs.values()) {
          if (p.owned === n.id) out.push(this.nodes.get(p.owner));
          if (p.owner === n.id) out.push(this.nodes.get(p.owned));
        }
        return out.filter((m) => m && m.layer === towards && m.x !== undefined);
      };
      const place = (list) => {
        const width = list.length * W + (list.length - 1) * GAP_X;
        list.forEach((n, i) => { n.x = -width / 2 + i * (W + GAP_X); });
      };
      const keys = [...layers.keys()].sort((a, b) => Math.abs(a) - Math.abs(b) || a - b);
      for (const k of keys) {
        const list = layers.get(k);
        const towards = k < 0 ? k + 1 : k - 1;
        for (const n of list) {
          const nb = k === 0 ? [] : neighbours(n, towards);
          n.bary = nb.length ? nb.reduce((s, m) => s + m.x, 0) / nb.length : Infinity;
        }
        list.sort((a, b) => a.bary - b.bary || a.seq - b.seq);
        place(list);
        for (const n of list) n.y = k * GAP_Y;
      }
    }

    draw() {
      this.layout();
      const nodes = [...this.nodes.values()];
      const minX = Math.min(...nodes.map((n) => n.x)) - 40, maxX = Math.max(...nodes.map((n) => n.x + W)) + 40;
      const minY = Math.min(...nodes.map((n) => n.y)) - 40, maxY = Math.max(...nodes.map((n) => n.y + H)) + 40;
      const s = this.svgNode;
      s.setAttribute("viewBox", [minX, minY, maxX - minX, maxY - minY].join(" "));
      s.setAttribute("width", Math.round((maxX - minX) * this.scale));
      s.setAttribute("height", Math.round((maxY - minY) * this.scale));
      while (s.firstChild) s.removeChild(s.firstChild);
      s.appendChild(svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" },
        svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#8892a6" }))));
      const edges = svg("g", { class: "edges" });
      const labels = svg("g", { class: "edge-labels" });
      const indeg = new Map(), outdeg = new Map();
      for (const p of this.pairs.values()) {
        indeg.set(p.owned, (indeg.get(p.owned) || 0) + 1);
        outdeg.set(p.owner, (outdeg.get(p.owner) || 0) + 1);
      }
      for (const p of this.pairs.values()) {
        const a = this.nodes.get(p.owner), b = this.nodes.get(p.owned);
        const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
        const dy = Math.max(40, Math.abs(y2 - y1) / 2);
        const d = y2 > y1
          ? `M ${x1} ${y1} C ${x1} ${y1 + dy} ${x2} ${y2 - dy} ${x2} ${y2}`
          : `M ${x1} ${y1} C ${x1} ${y1 + 80} ${x2} ${y2 - 80} ${x2} ${y2}`;
        const text = p.stakes.map((e) => SC.iv(e.share, 1)).join(" + ");
        const g = svg("g", { class: "edge" + (this.selected === p ? " selected" : ""), "data-owner": p.owner, "data-owned": p.owned, "data-stake": p.stakes[0].stake, tabindex: 0 },
          svg("path", { class: "hit", d: d }),
          svg("path", { class: "line", d: d, "marker-end": "url(#arrow)" }));
        // the label sits near the end where fewer edges meet, so converging edges stay readable
        const t = (indeg.get(p.owned) || 0) >= (outdeg.get(p.owner) || 0) ? 0.28 : 0.72;
        const c1y = y2 > y1 ? y1 + dy : y1 + 80, c2y = y2 > y1 ? y2 - dy : y2 - 80;
        const bez = (a0, a1, a2, a3) => (1 - t) ** 3 * a0 + 3 * (1 - t) ** 2 * t * a1 + 3 * (1 - t) * t ** 2 * a2 + t ** 3 * a3;
        const mx = bez(x1, x1, x2, x2), my = bez(y1, c1y, c2y, y2);
        const label = svg("text", { x: mx, y: my + 4, "text-anchor": "middle", class: "edge-label", "data-owner": p.owner, "data-owned": p.owned }, text);
        const open = () => { this.selected = p; this.draw(); this.showEdge(p); };
        g.addEventListener("click", open);
        g.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
        label.addEventListener("click", open);
        edges.appendChild(g);
        labels.appendChild(label);
      }
      s.appendChild(edges);
      const ng = svg("g", { class: "nodes" });
      for (const n of nodes) ng.appendChild(this.drawNode(n));
      s.appendChild(ng);
      s.appendChild(labels);
      const wrap = this.host;
      if (!this.centred) {
        this.centred = true;
        requestAnimationFrame(() => { wrap.scrollLeft = (wrap.scrollWidth - wrap.clientWidth) / 2; });
      }
    }

    drawNode(n) {
      const color = COLORS[n.kind] || "#8e44ad";
      const g = svg("g", { class: "node kind-" + n.kind + (n.id === this.focus ? " focus" : ""), "data-id": n.id, "data-kind": n.kind,
        transform: `translate(${n.x},${n.y})` });
      const body = svg("g", { class: "label", tabindex: 0, role: "button", "aria-label": n.name },
        svg("rect", { width: W, height: H, rx: 6, fill: color }),
        svg("text", { x: 8, y: 17, "font-weight": 600 }, clip(n.name, 29)),
        svg("text", { x: 8, y: 34, opacity: 0.9 }, (SC.kindLabel[n.kind] || n.kind) + " · " + clip(n.id, 22)),
        svg("title", {}, n.name + " (" + n.id + ")"));
      body.addEventListener("click", () => this.showNode(n));
      g.appendChild(body);
      const button = (dir, y, glyph) => {
        const side = n[dir];
        if (side.total === 0) return null;
        const left = side.total === null ? "" : String(side.total - side.loaded);
        if (side.total !== null && side.loaded >= side.total) return null;
        const label = glyph + " " + (side.loaded ? "more " : "") + left;
        const b = svg("g", { class: "expand expand-" + dir, "data-id": n.id, transform: `translate(${W / 2 - 32},${y})`, tabindex: 0, role: "button",
          "aria-label": (dir === "owners" ? "show owners of " : "show holdings of ") + n.name },
          svg("rect", { width: 64, height: 16, rx: 8 }),
          svg("text", { x: 32, y: 12, "text-anchor": "middle" }, label),
          svg("title", {}, dir === "owners" ? "load owners" : "load holdings"));
        const go = (e) => { e.stopPropagation(); this.expand(n.id, dir).catch((err) => this.onError(err)); };
        b.addEventListener("click", go);
        b.addEventListener("keydown", (e) => { if (e.key === "Enter") go(e); });
        return b;
      };
      const up = button("owners", -18, "▲");
      const down = button("holdings", H + 2, "▼");
      if (up) g.appendChild(up);
      if (down) g.appendChild(down);
      return g;
    }

    showNode(n) {
      SC.openPanel(
        SC.el("h3", {}, n.name), SC.kindBadge(n.kind), SC.el("p", { class: "muted" }, n.id),
        SC.el("p", {}, SC.entityLink(n.id, "open this entity's page →")),
        SC.el("p", {},
          SC.el("button", { type: "button", onclick: () => this.expand(n.id, "owners") }, "load owners"), " ",
          SC.el("button", { type: "button", onclick: () => this.expand(n.id, "holdings") }, "load holdings")));
    }

    showEdge(p) {
      const a = this.nodes.get(p.owner), b = this.nodes.get(p.owned);
      SC.openPanel(
        SC.el("h3", { class: "edge-title" }, a.name, " → ", b.name),
        p.stakes.map((e) => SC.el("div", { class: "card stake", "data-stake": e.stake },
          SC.el("p", {}, SC.el("strong", {}, SC.iv(e.share)), " ", e.type, " stake (", e.share_kind, ")", e.direct ? "" : ", indirect"),
          SC.el("p", { class: "muted small" }, e.stake),
          SC.el("p", { class: "small" }, "valid ", e.valid_from || "(open)", " to ", e.valid_to || "(open)",
            e.confidence ? " · confidence " + e.confidence : ""),
          e.note ? SC.el("p", { class: "small" }, e.note) : null,
          SC.el("h4", {}, "Sources"), SC.sourceList(e.sources))));
    }

    onError(err) { this.host.appendChild(SC.error(err)); }
  }

  SC.OwnershipGraph = OwnershipGraph;
})();
