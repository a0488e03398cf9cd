/* statecap dashboard: the scenario lab. Sliders set the main levers (as overrides of a built-in
 * scenario); "run" asks POST /api/simulate for the scenario as it is and with the levers moved
 * (same seed, so shared draws cancel) and draws both with their P5-P95 bands. */
"use strict";

(function () {
  const el = SC.el;

  const OUTPUT_LABELS = {
    self_sufficiency: "self-sufficiency", capability: "capability", state_capital_cum: "state capital, cumulative",
    private_capital_cum: "private capital, cumulative", soe_debt_ratio: "SOE debt ratio",
  };

  function overrideFor(lever, value) {
    if (lever.year) return { [lever.key]: { [String(lever.year)]: value } };
    return { [lever.key]: value };
  }

  SC.views.lab = async function (main) {
    const box = el("div", {}, SC.loading());
    SC.fill(main, el("h1", {}, "Scenario lab"),
      el("p", { class: "muted" }, "Move a lever, run, and compare against the scenario as written. Both runs use the same seed, so shared uncertainty is drawn identically; bands are P5–P95 over the Monte Carlo runs."),
      box);
    let scenarios;
    try { scenarios = await SC.api("/api/scenarios"); } catch (e) { SC.fill(box, SC.error(e)); return; }
    if (!scenarios.length) { SC.fill(box, el("p", { class: "muted" }, "no built-in scenarios")); return; }

    const pick = el("select", { id: "scenario" }, scenarios.map((s) => el("option", { value: s.name }, s.name)));
    const runs = el("input", { type: "number", id: "runs", min: 10, max: 2000, step: 10, value: 200 });
    const seed = el("input", { type: "number", id: "seed", min: 0, value: 0 });
    const output = el("select", { id: "output" });
    const sector = el("select", { id: "sector" });
    const levers = el("div", { id: "levers" });
    const runBtn = el("button", { type: "button", class: "primary", id: "run" }, "run");
    const status = el("span", { class: "muted", id: "lab-status" });
    const chart = el("div", { class: "chart", id: "lab-chart", style: "height:440px" });
    const table = el("div", { id: "lab-table" });
    const backtest = el("div", { id: "lab-backtest" });
    const csv = el("button", { type: "button", id: "download-csv", disabled: true }, "download CSV");
    const parquet = el("button", { type: "button", id: "download-parquet", disabled: true }, "download Parquet");
    const desc = el("p", { class: "small" });
    SC.fill(box,
      el("div", { class: "row" }, el("label", {}, "scenario", pick), el("label", {}, "Monte Carlo runs", runs), el("label", {}, "seed", seed)),
      desc,
      el("h2", {}, "Levers"), levers,
      el("div", { class: "row" }, runBtn, status),
      el("h2", {}, "Compared with the scenario as written"),
      el("div", { class: "row" }, el("label", {}, "output", output), el("label", {}, "sector", sector), csv, parquet),
      chart, table, backtest);

    const sliders = new Map();
    const drawLevers = () => {
      const s = scenarios.find((x) => x.name === pick.value);
      desc.textContent = s.description;
      sliders.clear();
      SC.fill(levers, s.levers.map((lv) => {
        const value = lv.value === null ? lv.min : lv.value;
        const out = el("output", {}, String(value));
        // only levers the user moves become overrides (a slider snaps the scenario's own value to its step)
        const input = el("input", { type: "range", min: lv.min, max: lv.max, step: lv.step, value: value, "data-key": lv.key, "aria-label": lv.label,
          oninput: (e) => { out.textContent = e.target.value; e.target.dataset.moved = "1"; } });
        sliders.set(lv.key, { lever: lv, input: input });
        return el("div", { class: "lever" }, el("span", {}, lv.label, el("div", { class: "muted small" }, lv.unit + " · as written: " + (lv.value === null ? "–" : lv.value))), input, out);
      }));
    };
    pick.addEventListener("change", drawLevers);
    drawLevers();

    let last = null;
    const body = (overrides) => ({ scenario: pick.value, overrides: overrides, runs: Number(runs.value), seed: Number(seed.value), series: true });
    const currentOverrides = () => {
      const o = {};
      for (const { lever, input } of sliders.values()) {
        if (input.dataset.moved) Object.assign(o, overrideFor(lever, Number(input.value)));
      }
      return o;
    };

    const redraw = () => {
      if (!last) return;
      const [base, moved] = last;
      const o = output.value, s = sector.value;
      const years = base.years;
      const band = (r, name, color, fill) => {
        const q = r.series[s][o];
        return [
          { x: years, y: q.p95, type: "scatter", mode: "lines", line: { width: 0 }, showlegend: false, hoverinfo: "skip" },
          { x: years, y: q.p5, type: "scatter", mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: fill, name: name + " P5–P95" },
          { x: years, y: q.p50, type: "scatter", mode: "lines", line: { color: color, width: 2 }, name: name + " median" },
        ];
      };
      const unit = (base.units || {})[o] || "";
      SC.plot(chart, [...band(base, base.scenario + " as written", "#2c6fbb", "rgba(44,111,187,0.18)"), ...band(moved, "with your levers", "#c0392b", "rgba(192,57,43,0.18)")],
        { height: 440, yaxis: { title: (OUTPUT_LABELS[o] || o) + (unit ? " (" + unit + ")" : "") }, legend: { orientation: "h" } });
      const sectors = Object.keys(base.outputs);
      SC.fill(table, SC.table([
        { label: "sector", value: (x) => x },
        { label: "as written P5", num: true, value: (x) => fmt(base.outputs[x][o].p5) },
        { label: "P50", num: true, value: (x) => fmt(base.outputs[x][o].p50) },
        { label: "P95", num: true, value: (x) => fmt(base.outputs[x][o].p95) },
        { label: "with levers P5", num: true, value: (x) => fmt(moved.outputs[x][o].p5) },
        { label: "P50", num: true, value: (x) => fmt(moved.outputs[x][o].p50) },
        { label: "P95", num: true, value: (x) => fmt(moved.outputs[x][o].p95) },
      ], sectors, { class: "comparison" }));
      const bt = moved.backtest || {};
      SC.fill(backtest, el("p", { class: "small" }, "Backtest: ", bt.message || "none", " · calibration: ", (moved.calibration && moved.calibration.used) ? "fitted" : ((moved.calibration && moved.calibration.reason) || "not used")));
    };
    output.addEventListener("change", redraw);
    sector.addEventListener("change", redraw);

    const run = async () => {
      runBtn.disabled = true;
      status.textContent = "running…";
      const t0 = performance.now();
      try {
        const overrides = currentOverrides();
        const [base, moved] = await Promise.all([SC.api("/api/simulate", body({})), SC.api("/api/simulate", body(overrides))]);
        last = [base, moved];
        const outputs = Object.keys(base.series[Object.keys(base.series)[0]]);
        if (!output.options.length) {
          SC.fill(output, outputs.map((o) => el("option", { value: o }, OUTPUT_LABELS[o] || o)));
          SC.fill(sector, Object.keys(base.series).map((s) => el("option", { value: s }, s)));
        }
        redraw();
        status.textContent = "done in " + ((performance.now() - t0) / 1000).toFixed(1) + " s · " + Object.keys(overrides).length + " lever(s) moved";
        chart.dataset.ready = "1";
        csv.disabled = parquet.disabled = false;
      } catch (e) {
        status.textContent = "";
        SC.fill(table, SC.error(e));
      } finally { runBtn.disabled = false; }
    };
    runBtn.addEventListener("click", run);

    const download = async (fmt) => {
      const res = await fetch("/api/simulate/export?format=" + fmt, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body(currentOverrides())) });
      if (!res.ok) { SC.fill(backtest, SC.error(new Error((await res.json()).detail))); return; }
      SC.download(await res.blob(), "statecap-" + pick.value + "." + fmt);
    };
    csv.addEventListener("click", () => download("csv"));
    parquet.addEventListener("click", () => download("parquet"));
  };

  function fmt(x) { return x === null || x === undefined ? "–" : Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3); }
})();
