/* statecap dashboard: the pages (search, entity, flows, indicators, data). Each page asks the
 * REST API, which calls the same library functions as the CLI; nothing is computed here. */
"use strict";

(function () {
  const el = SC.el;
  const views = (SC.views = SC.views || {});

  // ---- search -------------------------------------------------------------------------------

  views.home = async function (main) {
    const top = el("div", {}, SC.loading());
    SC.fill(main,
      el("h1", {}, "Who owns it, how much is the state's, where the money goes"),
      el("p", { class: "muted" }, "Search by English or Chinese name, id, USCC, LEI, ticker or Wikidata id."),
      SC.searchBox({ big: true, id: "search" }),
      el("h2", {}, "Largest state shares"),
      top);
    main.querySelector("#search").focus();
    try {
      const r = await SC.api("/api/state-share?top=15");
      SC.fill(top, SC.table([
        { label: "entity", value: (x) => SC.entityLink(x.id, x.name) },
        { label: "kind", value: (x) => SC.kindBadge(x.kind) },
        { label: "state share", value: (x) => el("span", {}, SC.iv(x.state_share), SC.shareBar(x.state_share)) },
        { label: "class", value: (x) => SC.stateClass(x.state_class) },
      ], r.results));
    } catch (e) { SC.fill(top, SC.error(e)); }
  };

  // ---- entity -------------------------------------------------------------------------------

  views.entity = async function (main, id, params) {
    const asOf = params.get("as_of");
    const q = asOf ? "?as_of=" + encodeURIComponent(asOf) : "";
    const head = el("div", { id: "entity-head" }, SC.loading());
    const stateCard = el("div", { class: "card", id: "state-card" }, SC.loading("computing the state's share…"));
    const graphHost = el("div", { class: "graph-wrap", id: "graph" });
    const ownersBox = el("div", { id: "owners" }, SC.loading());
    const controlBox = el("div", { id: "control" }, SC.loading());
    const screenBox = el("div", { id: "screen" }, SC.loading());
    const moneyBox = el("div", { id: "money" });
    SC.fill(main, head,
      el("div", { class: "row" },
        el("label", {}, "as of", el("input", { type: "date", id: "as-of", value: asOf || "", onchange: (e) => {
          const v = e.target.value;
          location.hash = "#/entity/" + encodeURIComponent(id) + (v ? "?as_of=" + v : "");
        } }))),
      stateCard,
      el("h2", {}, "Ownership graph"),
      el("div", { class: "graph-toolbar" },
        el("span", { class: "legend" },
          [["state organ", "#c0392b"], ["state fund", "#e67e22"], ["SOE", "#d4a017"], ["company", "#2c6fbb"], ["foreign", "#7f8c8d"]]
            .map(([t, c]) => el("span", {}, el("i", { style: "background:" + c }), t))),
        el("button", { type: "button", id: "expand-state" }, "expand owners up to the state"),
        el("button", { type: "button", id: "zoom-out", "aria-label": "zoom out" }, "−"),
        el("button", { type: "button", id: "zoom-in", "aria-label": "zoom in" }, "+"),
        el("span", { class: "muted small" }, "▲ loads owners, ▼ loads holdings; click a share to see its sources.")),
      graphHost,
      el("h2", {}, "Screening"), screenBox,
      el("h2", {}, "Control"), controlBox,
      el("h2", {}, "Owners, direct and indirect"), ownersBox,
      el("h2", {}, "Money"), moneyBox);

    // every question is asked at once; each part of the page fills in as its answer arrives
    const base = "/api/entities/" + encodeURIComponent(id);
    const quiet = (p) => { p.catch(() => null); return p; };
    const owners = quiet(SC.api(base + "/owners?paths=3&limit=100" + (asOf ? "&as_of=" + asOf : "")));
    const control = quiet(SC.api(base + "/control" + q));
    const screen = quiet(SC.api(base + "/screen" + q));
    let ent;
    try {
      ent = await SC.api(base + q);
    } catch (e) { SC.fill(head, SC.error(e)); [stateCard, ownersBox, controlBox, screenBox].forEach((b) => SC.fill(b)); return; }
    renderHead(head, ent);
    document.title = ent.name + " — statecap";

    const graph = new SC.OwnershipGraph(graphHost, ent, { asOf: asOf });
    main.querySelector("#expand-state").addEventListener("click", () => graph.expandToState(8).catch((e) => graph.onError(e)));
    main.querySelector("#zoom-out").addEventListener("click", () => graph.zoom(1 / 1.25));
    main.querySelector("#zoom-in").addEventListener("click", () => graph.zoom(1.25));
    Promise.all([graph.expand(ent.id, "owners"), graph.expand(ent.id, "holdings")]).catch((e) => graph.onError(e));

    owners.then((r) => { renderState(stateCard, r); renderOwners(ownersBox, r); })
      .catch((e) => { SC.fill(stateCard, SC.error(e)); SC.fill(ownersBox); });
    control.then((r) => renderControl(controlBox, r)).catch((e) => SC.fill(controlBox, SC.error(e)));
    screen.then((r) => renderScreen(screenBox, r)).catch((e) => SC.fill(screenBox, SC.error(e)));
    const money = "/api/entities/" + encodeURIComponent(ent.id);
    SC.fill(moneyBox, el("button", { type: "button", id: "load-money", onclick: () => loadMoney(moneyBox, money, asOf) }, "show where its money went and came from"));
  };

  function renderHead(head, e) {
    const idents = e.identifiers.map((i) => el("span", { class: "badge" }, i.scheme + " " + i.value));
    const des = e.designations.map((d) => el("span", { class: "badge" + (d.active ? " active" : ""), title: (d.citation || "") + " " + d.start + (d.end ? " to " + d.end : "") },
      d.list_name + (d.active ? "" : " (ended)")));
    SC.fill(head,
      el("h1", {}, e.name, e.name_zh ? el("span", { class: "muted" }, "  " + e.name_zh) : null),
      el("p", {}, SC.kindBadge(e.kind), e.sectors.map((s) => el("span", { class: "badge" }, s)), " ",
        el("span", { class: "muted small" }, e.id), e.country ? el("span", { class: "muted small" }, " · " + e.country.toUpperCase()) : null),
      idents.length ? el("p", {}, idents) : null,
      des.length ? el("p", {}, el("strong", {}, "Designations: "), des) : null,
      e.description ? el("p", {}, e.description) : null,
      el("details", {}, el("summary", {}, "sources of this record"), SC.sourceList(e.sources)));
  }

  function pathText(p, names) {
    return p.nodes.map((n) => names[n] || n).join(" → ");
  }

  function pathEvidence(p, names) {
    return el("div", { class: "card path" },
      el("p", { class: "chain" }, pathText(p, names), "  ", el("strong", {}, SC.iv(p.share))),
      el("ol", {}, p.hops.map((h) => el("li", {},
        (names[h.owner] || h.owner), " holds ", el("strong", {}, SC.iv(h.share)), " of ", (names[h.owned] || h.owned),
        h.stakes.map((s) => el("div", { class: "small" }, el("span", { class: "muted" }, typeof s === "string" ? s : s.id),
          typeof s === "string" ? null : SC.sourceList(s.sources)))))));
  }

  function renderState(card, r) {
    const names = { [r.entity]: r.name };
    for (const o of r.owners) names[o.id] = o.name;
    SC.fill(card,
      el("div", { class: "cards" },
        el("div", {}, el("div", { class: "muted" }, "state share (integrated, all organs together)"),
          el("div", { class: "big-number", id: "state-share" }, SC.iv(r.state_share)), SC.shareBar(r.state_share)),
        el("div", {}, el("div", { class: "muted" }, "state class"), el("div", { class: "big-number", id: "state-class" }, SC.stateClass(r.state_class)),
          el("div", { class: "muted small" }, "as of " + (r.evaluated_on || "today")))),
      r.state_paths.length
        ? el("details", { class: "evidence" }, el("summary", {}, "the state's strongest paths (" + r.state_paths.length + ")"),
          r.state_paths.map((p) => pathEvidence(p, names)))
        : el("p", { class: "muted" }, "no chain of stakes from a state organ is recorded."));
  }

  function renderOwners(box, r) {
    const names = { [r.entity]: r.name };
    for (const o of r.owners) names[o.id] = o.name;
    if (!r.owners.length) { SC.fill(box, el("p", { class: "muted" }, "no owners recorded.")); return; }
    SC.fill(box,
      el("p", { class: "muted small" }, r.total + " owners; click a row for its paths and their sources."),
      SC.table([
        { label: "owner", value: (o) => SC.entityLink(o.id, o.name) },
        { label: "kind", value: (o) => SC.kindBadge(o.kind) },
        { label: "direct", num: true, value: (o) => SC.iv(o.direct) },
        { label: "integrated", num: true, value: (o) => SC.iv(o.integrated) },
        { label: "best path", value: (o) => el("span", { class: "chain" }, o.paths.length ? pathText(o.paths[0], names) : "") },
      ], r.owners, { onclick: (o) => SC.openPanel(el("h3", {}, o.name, " in ", r.name), el("p", {}, "integrated ", SC.iv(o.integrated)),
        o.paths.map((p) => pathEvidence(p, names))) }));
  }

  function verdictClass(v) { return v === true || v === "yes" ? "yes" : v === "possible" ? "possible" : "no"; }

  function renderControl(box, r) {
    const rules = r.rules;
    const names = {};
    const m = rules.majority;
    const majority = el("div", { class: "card rule " + (m.controller_is_state ? (m.certainty === "definite" ? "yes" : "possible") : "no"), "data-rule": "majority" },
      el("h3", {}, "Majority chain (>50% at each hop)"),
      el("p", {}, m.controller ? ["ultimate controller: ", SC.entityLink(m.controller, m.controller_name), m.controller_is_state ? " (state organ)" : "", " — ", m.certainty]
        : (m.cycle ? "the chain runs into a cycle" : "no majority owner")),
      el("details", { class: "evidence" }, el("summary", {}, "evidence"),
        el("p", { class: "chain" }, m.chain.join(" → ")),
        el("ol", {}, m.hops.map((h) => el("li", {}, h.owner, " holds ", el("strong", {}, SC.iv(h.share)), " of ", h.owned, h.definite ? " (surely > 50%)" : " (maybe > 50%)",
          el("div", { class: "muted small" }, h.stakes.join(", ")))))));
    const laporta = ["laporta_20", "laporta_10"].map((k) => {
      const x = rules[k];
      const uo = x.ultimate_owner;
      return el("div", { class: "card rule " + verdictClass(x.state_controls), "data-rule": k },
        el("h3", {}, "La Porta weakest link at " + x.threshold + "%"),
        el("p", {}, "state control ", el("strong", {}, SC.iv(x.state_control)), " — the state controls: ",
          el("span", { class: "verdict-" + verdictClass(x.state_controls) }, x.state_controls)),
        uo ? el("p", {}, "ultimate owner: ", SC.entityLink(uo.controller, uo.controller_name), " ", SC.iv(uo.control), " (", uo.certainty, ")") : el("p", { class: "muted" }, "no ultimate owner at this threshold"),
        el("details", { class: "evidence" }, el("summary", {}, "evidence: the state's chains (" + x.state_chains.length + ")"),
          x.state_chains.map((c) => el("div", { class: "card" }, el("p", { class: "chain" }, c.nodes.join(" → ")),
            el("p", {}, "weakest link ", el("strong", {}, SC.iv(c.weakest_link))),
            el("ol", {}, c.hops.map((h) => el("li", {}, h.owner, " → ", h.owned, " ", SC.iv(h.share), el("div", { class: "muted small" }, h.stakes.join(", ")))))))));
    });
    const ig = rules.integrated_50;
    const integrated = el("div", { class: "card rule " + (ig.controllers.some((c) => c.controller_is_state) ? "yes" : "no"), "data-rule": "integrated_50" },
      el("h3", {}, "Integrated share above 50%"),
      ig.controllers.length
        ? el("ul", {}, ig.controllers.map((c) => el("li", {}, SC.entityLink(c.controller, c.controller_name), " ", SC.iv(c.integrated), " (", c.certainty, c.topmost ? ", topmost" : "", ")")))
        : el("p", { class: "muted" }, "nobody holds more than 50%"),
      el("details", { class: "evidence" }, el("summary", {}, "evidence"),
        ig.controllers.map((c) => c.paths.map((p) => pathEvidence(p, names)))));
    SC.fill(box, el("p", {}, "state share ", el("strong", {}, SC.iv(r.state_share)), " · ", SC.stateClass(r.state_class)),
      el("div", { class: "cards" }, majority, laporta, integrated));
  }

  const RULE_NAMES = {
    ofac50: "OFAC 50 Percent Rule", "bis-affiliates": "BIS Affiliates rule",
    outbound: "US outbound investment (31 CFR 850)", "owned-or-controlled": "EU/UK owned or controlled",
  };

  function renderScreen(box, r) {
    const names = Object.keys(r.rules);
    if (!names.length) { SC.fill(box, el("p", { class: "muted" }, "no screening rules answered.")); return; }
    SC.fill(box, el("p", { class: "muted small" }, "As of " + r.evaluated_on + ". Open a verdict for its evidence: designations, stakes and their sources."),
      el("div", { class: "cards" }, names.map((k) => {
        const x = r.rules[k];
        const v = x.verdict;
        const cls = v === "possible" ? "possible" : v ? "yes" : "no";
        const text = v === null ? "not caught" : v === "designated" ? "designated (listed itself)" : "caught (" + v + ")";
        return el("div", { class: "card rule verdict " + cls, "data-rule": k },
          el("h3", {}, RULE_NAMES[k] || k),
          el("p", {}, "verdict: ", el("strong", { class: "verdict-" + cls }, text),
            x.in_force === false ? el("span", { class: "muted" }, " — not in force: " + ((x.rule_status || {}).reason || "")) : null),
          x.skipped ? el("p", { class: "muted small" }, x.skipped) : null,
          x.aggregate ? el("p", { class: "small" }, "held by listed or caught owners: ", SC.iv(x.aggregate), x.test ? " (test: " + x.test.ownership + ")" : "") : null,
          el("details", { class: "evidence" }, el("summary", {}, "evidence (" + (x.evidence || []).length + ")"),
            (x.evidence || []).length ? (x.evidence || []).map(evidenceItem) : el("p", { class: "muted" }, "no listed or caught owner holds a stake in it"),
            x.test && x.test.notes ? el("p", { class: "muted small" }, x.test.notes.join("; ")) : null));
      })));
  }

  function evidenceItem(e) {
    if (e.kind === "designation") {
      return el("div", { class: "card evidence-item", "data-kind": e.kind },
        el("p", {}, SC.entityLink(e.entity, e.name), " is on the ", el("strong", {}, e.list_name), " since " + e.start + (e.end ? " until " + e.end : "")),
        e.citation ? el("p", { class: "small" }, e.citation) : null,
        e.licence_requirement ? el("p", { class: "small" }, "licence requirement: " + e.licence_requirement) : null,
        SC.sourceList(e.sources));
    }
    if (e.kind === "stake") {
      return el("div", { class: "card evidence-item", "data-kind": e.kind },
        el("p", {}, SC.entityLink(e.owner, e.owner_name), e.owner_verdict ? " (" + e.owner_verdict + ")" : "", " holds ", el("strong", {}, SC.iv(e.share)), " of ", SC.entityLink(e.owned, e.owned_name)),
        (e.stakes || []).map((st) => el("div", { class: "small" }, el("span", { class: "muted" }, st.id + " " + SC.iv(st.share) + (st.direct === false ? " (indirect)" : "")), SC.sourceList(st.sources))));
    }
    if (e.kind === "country_of_concern") {
      return el("div", { class: "card evidence-item", "data-kind": e.kind },
        el("p", {}, SC.entityLink(e.entity, e.name), " is a person of a country of concern (" + (e.country || "").toUpperCase() + ", via " + e.from + ", " + e.certainty + ")"),
        e.citation ? el("p", { class: "small muted" }, e.citation) : null);
    }
    return el("div", { class: "card evidence-item", "data-kind": e.kind || "" }, renderEvidence(e));
  }

  /** Any other evidence, shown generically. */
  function renderEvidence(ev) {
    if (ev === null || ev === undefined) return el("span", { class: "muted" }, "–");
    if (Array.isArray(ev)) return ev.length ? el("ul", {}, ev.map((x) => el("li", {}, renderEvidence(x)))) : el("span", { class: "muted" }, "none");
    if (typeof ev === "object") {
      if ("lo" in ev && "hi" in ev && Object.keys(ev).length === 2) return el("span", {}, SC.iv(ev));
      if ("url" in ev && "title" in ev) return SC.sourceList([ev]);
      return el("dl", { class: "small" }, Object.entries(ev).map(([k, v]) => [el("dt", {}, k.replace(/_/g, " ")), el("dd", {}, renderEvidence(v))]));
    }
    return el("span", {}, String(ev));
  }

  async function loadMoney(box, base, asOf) {
    SC.fill(box, SC.loading("following the money…"));
    try {
      const r = await SC.api(base + "/trace?limit=50" + (asOf ? "&as_of=" + asOf : ""));
      SC.fill(box,
        el("h3", {}, "Money it paid or that was paid through what it holds (" + r.currency + ")"),
        el("p", {}, "total attributed ", el("strong", {}, SC.moneyIv(r.outgoing_total, r.currency)), " over " + r.outgoing_total.records + " records"),
        SC.table([
          { label: "record", value: (x) => el("span", { class: "small" }, x.record) }, { label: "date", value: (x) => x.date },
          { label: "via", value: (x) => x.via ? SC.entityLink(x.via) : "direct" }, { label: "to", value: (x) => x.counterparty ? SC.entityLink(x.counterparty) : "" },
          { label: "sector", value: (x) => x.sector }, { label: "mechanism", value: (x) => x.mechanism },
          { label: "amount", num: true, value: (x) => SC.money(x.amount) }, { label: "attributed", num: true, value: (x) => SC.moneyIv(x.attributed) },
        ], r.outgoing),
        el("h3", {}, "Money that reached it"),
        SC.table([
          { label: "record", value: (x) => el("span", { class: "small" }, x.record) }, { label: "date", value: (x) => x.date },
          { label: "from", value: (x) => x.payers.map((p, i) => [i ? ", " : "", SC.entityLink(p.id)]) },
          { label: "sector", value: (x) => x.sector }, { label: "mechanism", value: (x) => x.mechanism },
          { label: "amount", num: true, value: (x) => SC.money(x.amount) }, { label: "state part", num: true, value: (x) => SC.moneyIv(x.state_attributed) },
        ], r.incoming));
    } catch (e) { SC.fill(box, SC.error(e)); }
  }

  // ---- flows --------------------------------------------------------------------------------

  views.flows = async function (main, _id, params) {
    const currency = params.get("currency") || "CNY";
    const sankey = el("div", { class: "chart", id: "sankey", style: "height:620px" }, SC.loading("tracing state money…"));
    const heat = el("div", { class: "chart", id: "heatmap" }, SC.loading());
    const years = el("div", { class: "chart", id: "by-year" }, SC.loading());
    const yFrom = el("input", { type: "number", id: "from", min: 1990, max: 2100, placeholder: "first year", value: params.get("from") || "" });
    const yTo = el("input", { type: "number", id: "to", min: 1990, max: 2100, placeholder: "last year", value: params.get("to") || "" });
    const cur = el("select", { id: "currency" }, ["CNY", "USD", "EUR", "HKD"].map((c) => el("option", { value: c, selected: c === currency }, c)));
    const apply = () => {
      const p = new URLSearchParams();
      p.set("currency", cur.value);
      if (yFrom.value) p.set("from", yFrom.value);
      if (yTo.value) p.set("to", yTo.value);
      location.hash = "#/flows?" + p.toString();
    };
    SC.fill(main,
      el("h1", {}, "Where state money goes"),
      el("p", { class: "muted" }, "State-attributed amounts: each flow times its payers' state share on the flow's date. Values are interval midpoints; hover for bounds."),
      el("div", { class: "row" }, el("label", {}, "currency", cur), el("label", {}, "from", yFrom), el("label", {}, "to", yTo),
        el("button", { type: "button", onclick: apply }, "apply")),
      el("h2", {}, "From state organs through funds and SOEs to sectors"), sankey,
      el("h2", {}, "By sector and mechanism"), heat,
      el("h2", {}, "By year and mechanism"), years);
    const range = (yFrom.value ? "&from=" + yFrom.value : "") + (yTo.value ? "&to=" + yTo.value : "");
    SC.api("/api/flows/sankey?currency=" + currency).then((r) => drawSankey(sankey, r)).catch((e) => SC.fill(sankey, SC.error(e)));
    SC.api("/api/flows?by=sector,mechanism&currency=" + currency + range).then((r) => drawHeat(heat, r)).catch((e) => SC.fill(heat, SC.error(e)));
    SC.api("/api/flows?by=year,mechanism&currency=" + currency + range).then((r) => drawYears(years, r)).catch((e) => SC.fill(years, SC.error(e)));
  };

  const NODE_COLORS = { state: "#922b21", state_organ: "#c0392b", direct: "#95a5a6", state_fund: "#e67e22", central_soe: "#d4a017",
    local_soe: "#b7950b", policy_bank: "#a04000", company: "#2c6fbb", foreign_company: "#7f8c8d", sector: "#1e8449" };

  SC.sankeyTrace = function (r) {
    const index = new Map(r.nodes.map((n, i) => [n.id, i]));
    const cols = { 0: 0.01, 1: 0.5, 2: 0.99 };
    return {
      type: "sankey", arrangement: "snap", valueformat: ".3s",
      node: { label: r.nodes.map((n) => n.label), color: r.nodes.map((n) => NODE_COLORS[n.kind] || "#8e44ad"),
        x: r.nodes.map((n) => cols[n.column]), pad: 10, thickness: 16, line: { width: 0 } },
      link: {
        source: r.links.map((l) => index.get(l.source)), target: r.links.map((l) => index.get(l.target)),
        value: r.links.map((l) => l.value),
        customdata: r.links.map((l) => [SC.money(l.lo), SC.money(l.hi), l.records]),
        hovertemplate: "%{source.label} → %{target.label}<br>midpoint %{value:.3s} " + r.currency + "<br>bounds %{customdata[0]}–%{customdata[1]}<br>%{customdata[2]} records<extra></extra>",
        color: "rgba(120,130,150,0.35)",
      },
    };
  };

  function drawSankey(node, r) {
    SC.fill(node);
    return SC.plot(node, [SC.sankeyTrace(r)], { margin: { l: 10, r: 10, t: 10, b: 10 }, height: 600 });
  }

  SC.heatTrace = function (r) {
    const sectors = [...new Set(r.rows.map((x) => x.sector))].sort();
    const mechs = [...new Set(r.rows.map((x) => x.mechanism))].sort();
    const z = sectors.map(() => mechs.map(() => null));
    const text = sectors.map(() => mechs.map(() => ""));
    for (const x of r.rows) {
      const i = sectors.indexOf(x.sector), j = mechs.indexOf(x.mechanism);
      z[i][j] = (x.state_attributed.lo + x.state_attributed.hi) / 2;
      text[i][j] = SC.moneyIv(x.state_attributed, r.currency) + " of " + SC.money(x.amount) + " (" + x.records + " records)";
    }
    return { type: "heatmap", x: mechs, y: sectors, z: z, text: text, hovertemplate: "%{y} · %{x}<br>%{text}<extra></extra>", colorscale: "YlOrRd", reversescale: true,
      colorbar: { title: { text: r.currency } } };
  };

  function drawHeat(node, r) {
    SC.fill(node);
    return SC.plot(node, [SC.heatTrace(r)], { margin: { l: 140, r: 20, t: 10, b: 120 }, height: 420 });
  }

  function drawYears(node, r) {
    SC.fill(node);
    const mechs = [...new Set(r.rows.map((x) => x.mechanism))].sort();
    const data = mechs.map((m) => {
      const rows = r.rows.filter((x) => x.mechanism === m).sort((a, b) => a.year - b.year);
      return { type: "bar", name: m, x: rows.map((x) => x.year), y: rows.map((x) => (x.state_attributed.lo + x.state_attributed.hi) / 2),
        error_y: { type: "data", symmetric: false, array: rows.map((x) => (x.state_attributed.hi - x.state_attributed.lo) / 2),
          arrayminus: rows.map((x) => (x.state_attributed.hi - x.state_attributed.lo) / 2), visible: false } };
    });
    return SC.plot(node, data, { barmode: "stack", height: 400, yaxis: { title: "state-attributed (" + r.currency + ", midpoint)" } });
  }

  // ---- indicators ---------------------------------------------------------------------------

  views.indicators = async function (main) {
    const box = el("div", { id: "indicators" }, SC.loading("computing indicators…"));
    SC.fill(main, el("h1", {}, "What the system costs, and what drives it"), box);
    try {
      const r = await SC.api("/api/indicators");
      SC.fill(box, r.indicators.map((ind) => {
        const chart = el("div", { class: "chart", "data-indicator": ind.id });
        const card = el("section", { class: "card", id: "ind-" + ind.id },
          el("h2", {}, ind.name), el("p", { class: "muted" }, ind.description),
          el("p", { class: "small" }, "unit: " + ind.unit + (ind.years ? " · years " + ind.years[0] + "–" + ind.years[1] : "") + " · " + ind.records.length + " records"),
          chart);
        SC.indicatorChart(chart, ind);
        return card;
      }));
    } catch (e) { SC.fill(box, SC.error(e)); }
  };

  /** One indicator as a chart: lines for yearly medians, bars with bounds for shares, a table otherwise. */
  SC.indicatorChart = function (node, ind) {
    const vals = ind.values || [];
    const national = ind.national_series || [];
    if (!vals.length && !national.length) { SC.fill(node, el("p", { class: "muted" }, "no data recorded yet")); node.style.minHeight = "0"; return null; }
    let data = [], layout = { height: 360 };
    if (ind.id === "market_distortion") {
      data = [{ type: "bar", x: vals.map((v) => v.sector), y: vals.map((v) => ((v.share_lo || 0) + (v.share_hi || 0)) / 2),
        error_y: { type: "data", symmetric: false, array: vals.map((v) => (v.share_hi - v.share_lo) / 2), arrayminus: vals.map((v) => (v.share_hi - v.share_lo) / 2) },
        hovertext: vals.map((v) => (v.share_lo || 0).toFixed(1) + "–" + (v.share_hi || 0).toFixed(1) + "%"), name: "state share of capital" }];
      layout.yaxis = { title: "percent" };
    } else if (ind.id === "drivers_timeline") {
      const mid = (a, b) => ((a || 0) + (b || 0)) / 2;
      data = [
        { type: "scatter", mode: "markers", name: "24 months before", x: vals.map((v) => v.date), y: vals.map((v) => mid(v.before_lo, v.before_hi)), text: vals.map((v) => v.title), marker: { symbol: "circle-open", size: 9 } },
        { type: "scatter", mode: "markers", name: "24 months after", x: vals.map((v) => v.date), y: vals.map((v) => mid(v.after_lo, v.after_hi)), text: vals.map((v) => v.title), marker: { size: 9 } },
      ];
      layout.yaxis = { title: "state-attributed flows into the event's sectors", type: "log" };
    } else if (ind.id === "geopolitical_headwinds") {
      const statuses = [...new Set(vals.map((v) => v.status))];
      data = statuses.map((s) => { const rows = vals.filter((v) => v.status === s); return { type: "bar", name: s, x: rows.map((v) => v.year), y: rows.map((v) => v.deals) }; });
      for (const d of (ind.designations || [])) if (d.list && d.year) { /* shown below as a line per list */ }
      const lists = [...new Set((ind.designations || []).map((d) => d.list))];
      for (const l of lists) {
        const rows = ind.designations.filter((d) => d.list === l);
        data.push({ type: "scatter", mode: "lines", name: "designated: " + l, x: rows.map((d) => d.year), y: rows.map((d) => d.entities), yaxis: "y2" });
      }
      layout = { height: 380, barmode: "stack", yaxis: { title: "overseas deals" }, yaxis2: { title: "designated entities", overlaying: "y", side: "right" } };
    } else if (ind.id === "efficiency" && vals.length) {
      const sectors = [...new Set(vals.map((v) => v.sector))].sort();
      const pick = el("select", { "aria-label": "sector" }, sectors.map((x) => el("option", { value: x }, x)));
      const chart = el("div", { class: "chart" });
      SC.fill(node, el("label", { class: "small" }, "sector ", pick), chart);
      node.style.minHeight = "0";
      const draw = () => {
        const rows = vals.filter((v) => v.sector === pick.value);
        const keys = [...new Set(rows.map((v) => v.metric + " · " + v.group))].sort();
        const traces = keys.map((k) => {
          const rs = rows.filter((v) => v.metric + " · " + v.group === k).sort((a, b) => a.year - b.year);
          return { type: "scatter", mode: "lines+markers", name: k, x: rs.map((v) => v.year), y: rs.map((v) => v.median),
            text: rs.map((v) => v.firms + " firms"), line: { dash: k.startsWith("roe") ? "dash" : "solid" } };
        });
        for (const ns of national) traces.push({ type: "scatter", mode: "markers", marker: { symbol: "diamond", size: 10 }, name: ns.series + " (national)",
          x: (ns.points || []).map((v) => v.year), y: (ns.points || []).map((v) => v.value) });
        return SC.plot(chart, traces, { height: 360, yaxis: { title: "median, percent" } });
      };
      pick.addEventListener("change", draw);
      return draw();
    } else if (vals.length && "year" in vals[0] && ("median" in vals[0] || "value" in vals[0])) {
      const key = "median" in vals[0] ? "median" : "value";
      const groups = new Map();
      for (const v of vals) {
        const g = [v.metric, v.sector, v.group].filter(Boolean).join(" · ") || ind.id;
        if (!groups.has(g)) groups.set(g, []);
        groups.get(g).push(v);
      }
      data = [...groups.entries()].map(([g, rows]) => ({ type: "scatter", mode: "lines+markers", name: g, x: rows.map((v) => v.year), y: rows.map((v) => v[key]) }));
    }
    if (national.length) {
      const second = data.length > 0 && ind.id !== "geopolitical_headwinds";
      for (const ns of national) {
        const pts = ns.points || [];
        data.push({ type: "scatter", mode: "lines+markers", line: { dash: "dot" }, name: ns.series + " (" + ns.unit + ")",
          x: pts.map((v) => v.year), y: pts.map((v) => v.value), yaxis: second ? "y2" : "y" });
      }
      if (second && !layout.yaxis2) layout.yaxis2 = { overlaying: "y", side: "right", title: "national series" };
    }
    if (!data.length) {
      SC.fill(node, tableOf(vals));
      node.style.minHeight = "0";
      return null;
    }
    return SC.plot(node, data, layout);
  };

  function tableOf(rows) {
    const cols = Object.keys(rows[0] || {}).filter((k) => k !== "records");
    return SC.table(cols.map((c) => ({ label: c, value: (r) => (typeof r[c] === "number" ? r[c].toPrecision(4) : Array.isArray(r[c]) ? r[c].join(", ") : String(r[c] ?? "")) })), rows.slice(0, 50));
  }

  // ---- data ---------------------------------------------------------------------------------

  views.data = async function (main) {
    const box = el("div", {}, SC.loading());
    SC.fill(main, el("h1", {}, "The data: coverage and sources"), box);
    try {
      const a = await SC.api("/api/audit");
      const heat = el("div", { class: "chart", id: "coverage" });
      SC.fill(box,
        el("p", {}, a.records + " records, " + (100 * a.sourced_share).toFixed(1) + "% with a source."),
        el("h2", {}, "Records by sector and mechanism"), heat,
        el("h2", {}, "Sources by publisher"),
        SC.table([{ label: "publisher", value: (p) => p.publisher }, { label: "sources", num: true, value: (p) => p.sources }, { label: "records", num: true, value: (p) => p.records }],
          a.sources_by_publisher.slice(0, 40)));
      const sectors = [...new Set(a.coverage.map((c) => c.sector))];
      const mechs = [...new Set(a.coverage.map((c) => c.mechanism))];
      const z = sectors.map((s) => mechs.map((m) => (a.coverage.find((c) => c.sector === s && c.mechanism === m) || {}).records || 0));
      SC.plot(heat, [{ type: "heatmap", x: mechs, y: sectors, z: z, colorscale: "Blues", texttemplate: "%{z}" }], { margin: { l: 120, r: 20, t: 10, b: 120 }, height: 420 });
    } catch (e) { SC.fill(box, SC.error(e)); }
  };
})();
