/**
 * The eval report as one self-contained HTML page: inline CSS and SVG, no scripts, nothing
 * fetched, so it opens from disk. Pure: JSON in, string out.
 */
import { figureCells, formatFigure, type ChurnModelResult, type EvalReport } from "./eval-report";

const COLOURS = ["#d9480f", "#1971c2", "#2f9e44", "#7048e8", "#c2255c", "#868e96"];
const W = 360;
const H = 300;
const PAD = 40;

export const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

const x = (v: number) => PAD + v * (W - PAD - 10);
const y = (v: number) => H - PAD - v * (H - PAD - 10);
const pts = (xy: readonly (readonly [number, number])[]) => xy.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(" ");

function axes(xLabel: string, yLabel: string): string {
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (t) =>
        `<line x1="${x(t)}" y1="${y(0)}" x2="${x(t)}" y2="${y(0) + 4}" stroke="#555"/><text x="${x(t)}" y="${y(0) + 16}" text-anchor="middle">${t}</text>` +
        `<line x1="${x(0) - 4}" y1="${y(t)}" x2="${x(0)}" y2="${y(t)}" stroke="#555"/><text x="${x(0) - 7}" y="${y(t) + 4}" text-anchor="end">${t}</text>`,
    )
    .join("");
  return (
    `<rect x="${x(0)}" y="${y(1)}" width="${x(1) - x(0)}" height="${y(0) - y(1)}" fill="#fff" stroke="#bbb"/>` +
    `<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#bbb" stroke-dasharray="4 4"/>` +
    ticks +
    `<text x="${(x(0) + x(1)) / 2}" y="${H - 6}" text-anchor="middle">${escapeHtml(xLabel)}</text>` +
    `<text transform="translate(12 ${(y(0) + y(1)) / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(yLabel)}</text>`
  );
}

function chart(id: string, title: string, xLabel: string, yLabel: string, series: string[]): string {
  return `<figure><figcaption>${escapeHtml(title)}</figcaption><svg id="${id}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(title)}">${axes(xLabel, yLabel)}${series.join("")}</svg></figure>`;
}

const line = (m: ChurnModelResult, i: number, xy: readonly (readonly [number, number])[]) =>
  `<polyline class="series" data-model="${escapeHtml(m.name)}" points="${pts(xy)}" fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="2"/>`;

function rocChart(models: ChurnModelResult[]): string {
  return chart("roc", "ROC curve (churn)", "false-positive rate", "true-positive rate", models.map((m, i) => line(m, i, m.roc)));
}

function calibrationChart(models: ChurnModelResult[]): string {
  const series = models.map((m, i) => {
    const xy = m.calibration.map((b) => [Math.min(1, Math.max(0, b.meanPredicted)), b.observedRate] as const);
    const dots = xy.map(([a, b]) => `<circle cx="${x(a).toFixed(1)}" cy="${y(b).toFixed(1)}" r="3" fill="${COLOURS[i % COLOURS.length]}"/>`).join("");
    return line(m, i, xy) + dots;
  });
  return chart("calibration", "Calibration (deciles of predicted probability)", "mean predicted churn probability", "observed churn rate", series);
}

function gainsChart(models: ChurnModelResult[]): string {
  return chart("gains", "Cumulative gains (lift): churners found among the riskiest", "share of customers contacted, riskiest first", "share of churners found", models.map((m, i) => line(m, i, m.gains.map((g, d) => [d / 10, g] as const))));
}

function legend(models: ChurnModelResult[]): string {
  return `<ul class="legend">${models.map((m, i) => `<li><span style="background:${COLOURS[i % COLOURS.length]}"></span>${escapeHtml(m.label)}</li>`).join("")}<li><span class="dashed"></span>chance / perfect calibration</li></ul>`;
}

function figuresTable(r: EvalReport): string {
  const value = new Map(figureCells(r).map((c) => [c.key, c.value]));
  const cell = (key: string) => {
    const v = value.get(key)!;
    return `<td data-metric="${escapeHtml(key)}" data-value="${Number.isFinite(v) ? v : "NaN"}">${formatFigure(v)}</td>`;
  };
  const churnRows = r.churn.models
    .map((m) => `<tr><th scope="row">${escapeHtml(m.label)}</th>${["auc", "prAuc", "brier", "liftTopDecile"].map((f) => cell(`churn.${m.name}.${f}`)).join("")}</tr>`)
    .join("");
  const churn = `<table id="figures-churn" class="figures"><caption>Churn: ${r.churn.customers} customers, churn rate ${formatFigure(r.churn.churnRate)} (no purchase within ${r.horizonDays} days after the cutoff)</caption><thead><tr><th>model</th><th>AUC</th><th>PR-AUC</th><th>Brier</th><th>lift, top 10%</th></tr></thead><tbody>${churnRows}</tbody></table>${churnChoice(r)}${intervalTable(r)}`;
  if (!r.recs) return churn;
  const recRows = r.recs.methods
    .map((m) => `<tr><th scope="row">${escapeHtml(m.label)}</th>${["hr", "ndcg", "coverage"].map((f) => cell(`recs.${m.name}.${f}`)).join("")}</tr>`)
    .join("");
  const ref = r.recs.reference
    ? `<p class="note">Measured elsewhere on this protocol: HR@10 most popular ${r.recs.reference.hrMostPopular}, co-occurrence ${r.recs.reference.hrCooccurrence}; NDCG@10 ${r.recs.reference.ndcgMostPopular} and ${r.recs.reference.ndcgCooccurrence}.</p>`
    : "";
  const target = `<p class="target ${r.recs.meetsTarget ? "met" : "missed"}">Lifeline HR@${r.recs.k} is ${r.recs.hrRatioToMostPopular.toFixed(2)}× most popular; target (≥ 1.5× most popular and above co-occurrence): <strong>${r.recs.meetsTarget ? "met" : "not met"}</strong>.</p>`;
  const chosen = r.recs.choice
    ? `<p class="note">Options chosen on the last ${r.recs.choice.horizonDays} days before the cutoff (${r.recs.choice.cases} customers): <strong>${escapeHtml(r.recs.choice.chosen)}</strong>; ${escapeHtml(r.recs.choice.reason)}.${r.recs.rebuy ? ` Re-bought catalogue: ${r.recs.rebuy.isRebought ? "yes" : "no"} (${formatFigure(r.recs.rebuy.repeatShare)} of later order lines repeat an item).` : ""}</p>`
    : "";
  return `${churn}<table id="figures-recs" class="figures"><caption>Recommendations: ${r.recs.evaluated} customers who bought something new within the horizon; catalogue ${r.recs.catalogue} items</caption><thead><tr><th>method</th><th>HR@${r.recs.k}</th><th>NDCG@${r.recs.k}</th><th>catalogue coverage</th></tr></thead><tbody>${recRows}</tbody></table>${target}${chosen}${ref}`;
}

/** How the refit chose the churn model on the tenant's own history, and what the shipped model draws on. */
function churnChoice(r: EvalReport): string {
  const c = r.churn.choice;
  const uses = `Features: ${r.churn.uses.features.map((f) => `<code>${escapeHtml(f)}</code>`).join(" ")}. Explicit signals fitted on this data: ${r.churn.uses.fittedSignals.length ? escapeHtml(r.churn.uses.fittedSignals.join("; ")) : "none (priors only)"}.`;
  if (!c) return `<p class="note">${uses}</p>`;
  const rows = [...c.candidates, { name: "BG/NBD (baseline)", auc: c.baseline.auc, brier: c.baseline.brier }]
    .map((x) => `<tr${x.name === c.chosen ? ' class="chosen"' : ""}><th scope="row">${escapeHtml(x.name)}${x.name === c.chosen ? " ✓" : ""}</th><td>${formatFigure(x.auc)}</td><td>${formatFigure(x.brier)}</td></tr>`)
    .join("");
  return `<table id="churn-choice" class="figures"><caption>Model choice (${escapeHtml(c.method)}, validated on ${c.validationRows} customers as of ${escapeHtml(c.validationAsOf.slice(0, 10))}): ${escapeHtml(c.reason)}</caption><thead><tr><th>candidate</th><th>AUC</th><th>Brier</th></tr></thead><tbody>${rows}</tbody></table><p class="note">${uses}</p>`;
}

/** Whether the 90 % intervals hold the observed churn rate of each decile of predictions. */
function intervalTable(r: EvalReport): string {
  const c = r.churn.intervalCoverage;
  const rows = c.bins
    .map((b) => `<tr class="${b.covered ? "covered" : "missed"}"><td>${b.bin + 1}</td><td>${b.count}</td><td>${formatFigure(b.meanPredicted)}</td><td>${formatFigure(b.low)} – ${formatFigure(b.high)}</td><td>${formatFigure(b.observedRate)}</td><td>${b.covered ? "yes" : "no"}</td></tr>`)
    .join("");
  return `<table id="interval-coverage" class="figures" data-coverage="${c.coverage}"><caption>${Math.round(c.level * 100)} % intervals: ${formatFigure(c.coverage)} of the deciles hold their observed churn rate</caption><thead><tr><th>decile</th><th>customers</th><th>mean predicted</th><th>mean interval</th><th>observed</th><th>held</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Behavioural predictions: errors beside the baselines, interval coverage, and the weekly cumulative repeat-purchase curve. */
function predictionsSection(r: EvalReport): string {
  const p = r.predictions;
  if (!p) return "";
  const value = new Map(figureCells(r).map((c) => [c.key, c.value]));
  const cell = (key: string) => `<td data-metric="${escapeHtml(key)}" data-value="${Number.isFinite(value.get(key)!) ? value.get(key) : "NaN"}">${formatFigure(value.get(key)!)}</td>`;
  const rows = p.methods
    .map((m) => `<tr><th scope="row">${escapeHtml(m.label)}</th>${["purchases.mae", "purchases.bias", "spend.mae", "spend.bias"].map((f) => cell(`predictions.${m.name}.${f}`)).join("")}</tr>`)
    .join("");
  const table = `<table id="figures-predictions" class="figures"><caption>Predictions over the ${p.horizonDays} days after the cutoff: ${p.customers} customers, who made on average ${formatFigure(p.actual.purchases)} purchase days and spent ${formatFigure(p.actual.spend)}</caption><thead><tr><th>method</th><th>purchases MAE</th><th>purchases bias</th><th>spend MAE</th><th>spend bias</th></tr></thead><tbody>${rows}</tbody></table>`;
  const coverage = `<table id="figures-coverage" class="figures"><caption>90 % intervals and the aggregate</caption><tbody><tr><th scope="row">customers inside the purchases interval</th>${cell("predictions.coverage.purchases")}</tr><tr><th scope="row">customers inside the spend interval</th>${cell("predictions.coverage.spend")}</tr><tr><th scope="row">predicted ÷ actual repeat purchases at the horizon</th>${cell("predictions.curveRatio")}</tr></tbody></table>`;
  const t = p.targets;
  const verdict = (met: boolean) => `<strong>${met ? "met" : "not met"}</strong>`;
  const targets = `<p class="target ${t.purchasesMet && t.spendMet && t.coverageMet && t.curveMet ? "met" : "missed"}">MAE ÷ plain BG/NBD + Gamma-Gamma: purchases ${formatFigure(t.purchasesMaeVsPlain)}, spend ${formatFigure(t.spendMaeVsPlain)} (target ≤ 0.95 and no worse than the last period): purchases ${verdict(t.purchasesMet)}, spend ${verdict(t.spendMet)}. Coverage 85–95 %: ${verdict(t.coverageMet)}. Curve within 5 % at the horizon: ${verdict(t.curveMet)}.</p>`;
  const d = p.diagnostics;
  const note = `<p class="note">MAE rewards the median, not the mean: if plain BG/NBD were exactly right its expected purchases would still score MAE ${formatFigure(d.bgnbdImpliedMae)}; its predictive median scores ${formatFigure(d.bgnbdMedian.mae)} with a bias of ${formatFigure(d.bgnbdMedian.bias)}. Next purchase: customers marked overdue bought within the horizon at a rate of ${formatFigure(p.nextPurchase.overdue.boughtInHorizon)} (${p.nextPurchase.overdue.customers}), the others at ${formatFigure(p.nextPurchase.notOverdue.boughtInHorizon)} (${p.nextPurchase.notOverdue.customers}).</p>`;
  return `<h2>Behavioural predictions</h2>${table}${coverage}${targets}${note}${repeatCurveChart(p)}`;
}

const CURVES = [
  { key: "actual", label: "actual", colour: "#222", dash: "" },
  { key: "lifeline", label: "Lifeline", colour: COLOURS[0]!, dash: "" },
  { key: "bgnbdGg", label: "plain BG/NBD", colour: COLOURS[1]!, dash: "" },
  { key: "lastPeriod", label: "same as the last period", colour: COLOURS[5]!, dash: "4 4" },
] as const;

function repeatCurveChart(p: NonNullable<EvalReport["predictions"]>): string {
  const top = niceCeiling(Math.max(1, ...CURVES.flatMap((c) => p.curve[c.key])));
  const xy = (values: readonly number[]) => [[0, 0] as const, ...p.curve.days.map((d, i) => [d / p.horizonDays, values[i]! / top] as const)];
  const series = CURVES.map(
    (c) => `<polyline class="series" data-series="${c.key}" points="${pts(xy(p.curve[c.key]))}" fill="none" stroke="${c.colour}" stroke-width="2"${c.dash ? ` stroke-dasharray="${c.dash}"` : ""}/>`,
  );
  const weekStep = Math.max(1, Math.ceil(p.horizonDays / 7 / 6));
  const weekTicks = Array.from({ length: Math.floor(p.horizonDays / 7 / weekStep) + 1 }, (_, k) => k * weekStep);
  const ticks =
    weekTicks.map((w) => `<line x1="${x((w * 7) / p.horizonDays)}" y1="${y(0)}" x2="${x((w * 7) / p.horizonDays)}" y2="${y(0) + 4}" stroke="#555"/><text x="${x((w * 7) / p.horizonDays)}" y="${y(0) + 16}" text-anchor="middle">${w}</text>`).join("") +
    [0, 0.25, 0.5, 0.75, 1].map((t) => `<line x1="${x(0) - 4}" y1="${y(t)}" x2="${x(0)}" y2="${y(t)}" stroke="#555"/><text x="${x(0) - 7}" y="${y(t) + 4}" text-anchor="end">${Math.round(t * top)}</text>`).join("");
  const frame =
    `<rect x="${x(0)}" y="${y(1)}" width="${x(1) - x(0)}" height="${y(0) - y(1)}" fill="#fff" stroke="#bbb"/>${ticks}` +
    `<text x="${(x(0) + x(1)) / 2}" y="${H - 6}" text-anchor="middle">weeks after the cutoff</text>` +
    `<text transform="translate(10 ${(y(0) + y(1)) / 2}) rotate(-90)" text-anchor="middle">cumulative repeat purchases</text>`;
  const legend = `<ul class="legend">${CURVES.map((c) => `<li><span style="background:${c.colour}"></span>${escapeHtml(c.label)}</li>`).join("")}</ul>`;
  return `${legend}<figure><figcaption>Cumulative repeat purchases after the cutoff, week by week (predicted vs actual)</figcaption><svg id="repeat-curve" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="cumulative repeat purchases">${frame}${series.join("")}</svg></figure>`;
}

/** The smallest 1, 2 or 5 × 10^k at or above v (a round top for an axis). */
function niceCeiling(v: number): number {
  const power = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * power).find((c) => c >= v)!;
}

const day = (ts: number) => new Date(ts).toISOString().slice(0, 10);

function examples(r: EvalReport): string {
  const cards = r.examples.map((e) => {
    const drivers = e.drivers
      .map(
        (d) =>
          `<li><strong>${escapeHtml(d.reason)}</strong> <code>${escapeHtml(d.feature)}</code> contribution ${d.contribution.toFixed(3)} log-odds${
            d.evidence.length
              ? `<ul class="evidence">${d.evidence.map((ev) => `<li>${day(ev.ts)} ${escapeHtml(ev.name)} <code>${escapeHtml(ev.messageId)}</code></li>`).join("")}</ul>`
              : ""
          }</li>`,
      )
      .join("");
    const recs = e.recommendations.length
      ? `<p>Recommended: ${e.recommendations.map((x) => `<span class="item${e.boughtAfter.includes(x.itemId) ? " hit" : ""}" title="${escapeHtml(x.reason)}">${escapeHtml(x.name ?? x.itemId)}</span>`).join(" ")}</p>`
      : "";
    const bought = e.boughtAfter.length ? `<p>Bought new after the cutoff: ${e.boughtAfter.map((i) => `<code>${escapeHtml(i)}</code>`).join(" ")}</p>` : "";
    const protective = e.protective.length
      ? `<p>Lowering the risk: ${e.protective.map((d) => `${escapeHtml(d.reason)} (${d.contribution.toFixed(3)})`).join("; ")}</p>`
      : "";
    return `<article class="example" data-customer="${escapeHtml(e.customerId)}"><h3>${escapeHtml(e.customerId)}: ${(e.probability * 100).toFixed(1)}% (90 %: ${(e.interval.low * 100).toFixed(0)}–${(e.interval.high * 100).toFixed(0)}%, ${escapeHtml(e.riskTier)}, ${escapeHtml(e.mode)}) — ${e.churned ? "churned" : "stayed"}</h3><ol>${drivers}</ol>${protective}${recs}${bought}<p class="note">Strategy: ${escapeHtml(e.strategy)}</p></article>`;
  });
  return `<section><h2>Example customers (the two riskiest and the two safest, with their drivers and evidence)</h2>${cards.join("") || "<p>none</p>"}</section>`;
}

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}h3{font-size:15px;margin:0 0 6px}
.meta{color:#555}.charts{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figcaption{font-weight:600;margin-bottom:4px}
svg text{font-size:10px;fill:#444}table.figures{border-collapse:collapse;margin:12px 0}caption{text-align:left;font-weight:600;padding:4px 0}
td,th{border:1px solid #ddd;padding:4px 10px;text-align:right}th[scope=row]{text-align:left;font-weight:500}thead th{background:#f5f5f5}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:14px}.legend span{display:inline-block;width:18px;height:3px;margin-right:6px;vertical-align:middle}
.legend .dashed{border-top:2px dashed #bbb;height:0}.example{border:1px solid #ddd;border-radius:6px;padding:10px 14px;margin:10px 0}
.evidence{color:#555;font-size:12px}.item{display:inline-block;background:#f1f3f5;border-radius:4px;padding:1px 6px;margin:2px}.item.hit{background:#d3f9d8}
.note{color:#666;font-size:12px}tr.missed td{color:#c92a2a}tr.chosen th{font-weight:700}.warning{color:#c92a2a}.target.met strong{color:#2f9e44}.target.missed strong{color:#c92a2a}code{font-size:11px}`;

export function reportHtml(r: EvalReport): string {
  const s = r.system;
  const meta = `Input <code>${escapeHtml(r.input)}</code> read with mapping <code>${escapeHtml(r.mapping)}</code>: ${r.data.events} events (${r.data.orders} orders) from ${escapeHtml(r.data.firstEventIso)} to ${escapeHtml(r.data.lastEventIso)}; ${escapeHtml(r.data.evaluates)} evaluated. Cutoff ${escapeHtml(r.cutoff)} (${escapeHtml(r.cutoffIso)}), horizon ${r.horizonDays} days; ${r.sample.customers} of ${r.sample.eligible} eligible customers${r.sample.requested ? " (hash sample)" : ""}. Imported ${s.imported.accepted} events (${s.imported.rows} rows, ${s.imported.rejected} rejected, ${s.imported.skipped} skipped: after the cutoff or not evaluated) into ${s.profiles} profiles; Lifeline model <code>${escapeHtml(s.model.version)}</code> (${s.model.learned ? "learned" : "BG/NBD fallback"}${s.model.note ? `: ${escapeHtml(s.model.note)}` : ""}). Time: import ${s.seconds.import} s, drain ${s.seconds.drain} s, refit ${s.seconds.refit} s, scoring ${s.seconds.score} s; ${r.runtimeSeconds} s in all.`;
  const models = r.churn.models;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lifeline eval: ${escapeHtml(r.dataset)}</title><style>${CSS}</style></head>
<body><h1>Lifeline evaluation: ${escapeHtml(r.dataset)}</h1>
<p class="meta">${meta}</p>${r.warnings.map((w) => `<p class="warning">${escapeHtml(w)}</p>`).join("")}<p class="note">${escapeHtml(r.note)} Generated ${escapeHtml(r.generatedAt)}.</p>
<h2>Figures</h2>${figuresTable(r)}
<h2>Churn curves</h2>${legend(models)}<div class="charts">${rocChart(models)}${calibrationChart(models)}${gainsChart(models)}</div>
${predictionsSection(r)}
${examples(r)}
</body></html>
`;
}
