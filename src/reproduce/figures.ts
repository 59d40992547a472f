// The report's figures as standalone SVG text: one line per unit over training (v1's gradient energy fraction,
// g23, the live edge ablation, test accuracy) and the phase diagram as a heatmap. Drawn with d3's scales and line
// generator, which need no DOM, so they run in Node and in a worker alike. (The page's chart code, src/ui/charts and
// src/ui/experiments/svg-plot.ts, draws into a live DOM and sits above this layer, so the report cannot use it.)
import { interpolateViridis, line, scaleLinear, scaleLog, scaleSequential } from 'd3';
import { formatValue } from './compare';
import { matches, type FigureSpec, type HeatmapSpec, type UnitOutcome } from './study';

const W = 640;
const H = 360;
const M = { top: 36, right: 150, bottom: 40, left: 64 };
/** Okabe-Ito, colour-blind safe (the lab's chart palette). */
const COLORS = ['#E69F00', '#56B4E9', '#009E73', '#0072B2', '#D55E00', '#CC79A7', '#F0E442', '#000000'];
const DASHES = ['', '6 3', '2 2', '8 3 2 3'];
const FONT = 'font-family="sans-serif" font-size="11"';

/** Where a legend label starts, right of the plot's edge (after its line sample). */
const LEGEND_TEXT_X = 34;
/** A generous width of 11 px sans-serif text (DejaVu Sans, which the PNGs use, averages about 6.3 px a character). */
const labelWidth = (text: string) => text.length * 6.6;

/** Pixel coordinates to 0.1 px. */
const r = (v: number) => Math.round(v * 10) / 10;
const esc = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

interface Line {
  label: string;
  x: number[];
  y: (number | null)[];
}

function seriesOf(o: UnitOutcome, which: FigureSpec['series']): { x: number[]; y: (number | null)[] } {
  const s = o.result.series;
  switch (which) {
    case 'gef1':
      return { x: s.spectral.step, y: s.spectral.gef1 };
    case 'g23':
      return { x: s.spectral.step, y: s.spectral.g23 };
    case 'causal-edge':
      return { x: s.causal.step, y: s.causal.edge };
    case 'testAcc':
      return { x: s.eval.step, y: s.eval.testAcc };
  }
}

function svg(body: string[], title: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${M.left}" y="20" font-family="sans-serif" font-size="13" font-weight="bold">${esc(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** A line figure, or null when no unit has a point of its series. */
export function lineFigure(spec: FigureSpec, outcomes: readonly UnitOutcome[]): string | null {
  const lines: Line[] = outcomes
    .filter((o) => matches(o.unit, spec.units))
    .map((o) => ({ label: o.unit.label, ...seriesOf(o, spec.series) }))
    .filter((l) => l.y.some((v) => v !== null && Number.isFinite(v) && (!spec.logY || v > 0)));
  if (lines.length === 0) return null;
  const ok = (v: number | null): v is number => v !== null && Number.isFinite(v) && (!spec.logY || v > 0);
  // The legend, right of the plot, is as wide as its longest label (the plot gives way, down to half the figure).
  const right = Math.min(W / 2, Math.max(M.right, LEGEND_TEXT_X + Math.ceil(Math.max(...lines.map((l) => labelWidth(l.label)))) + 8));
  const xs = lines.flatMap((l) => l.x);
  const ys = lines.flatMap((l) => l.y.filter(ok));
  const [first, last] = [Math.min(...xs), Math.max(...xs)];
  // One step only (an abbreviated run's single evaluation): a span around it, so the point sits mid-plot.
  const x = scaleLinear().domain(first === last ? [first - 1, last + 1] : [first, last]).range([M.left, W - right]).nice();
  const [lo, hi] = [Math.min(...ys), Math.max(...ys)];
  // A linear axis always shows 0: accuracies and fractions rise from it, an ablation's Δacc falls below it.
  const y = (spec.logY ? scaleLog().domain([lo, hi === lo ? lo * 10 : hi]) : scaleLinear().domain([Math.min(0, lo), Math.max(0, hi === lo ? lo + 1 : hi)])).range([H - M.bottom, M.top]).nice();
  const body: string[] = [];
  for (const t of x.ticks(6)) body.push(`<line x1="${r(x(t))}" x2="${r(x(t))}" y1="${M.top}" y2="${H - M.bottom}" stroke="#e5e5e5"/><text x="${r(x(t))}" y="${H - M.bottom + 14}" ${FONT} text-anchor="middle">${t}</text>`);
  // A log axis labels its powers of ten only (every tick otherwise).
  const yTicks = spec.logY ? y.ticks(5).filter((t) => Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9) : y.ticks(5);
  for (const t of yTicks.length > 0 ? yTicks : y.domain()) body.push(`<line x1="${M.left}" x2="${W - right}" y1="${r(y(t))}" y2="${r(y(t))}" stroke="#e5e5e5"/><text x="${M.left - 6}" y="${r(y(t) + 4)}" ${FONT} text-anchor="end">${formatValue(t)}</text>`);
  body.push(`<rect x="${M.left}" y="${M.top}" width="${W - M.left - right}" height="${H - M.top - M.bottom}" fill="none" stroke="#555"/>`);
  body.push(`<text x="${(M.left + W - right) / 2}" y="${H - 6}" ${FONT} text-anchor="middle">step</text>`);
  body.push(`<text transform="translate(14 ${(M.top + H - M.bottom) / 2}) rotate(-90)" ${FONT} text-anchor="middle">${esc(spec.y)}</text>`);
  lines.forEach((l, i) => {
    const path = line<number>()
      .defined((j) => ok(l.y[j]))
      .x((j) => x(l.x[j]))
      .y((j) => y(l.y[j]!))(l.x.map((_, j) => j));
    const color = COLORS[i % COLORS.length];
    const dash = DASHES[Math.floor(i / COLORS.length) % DASHES.length] || (l.label.includes('control') ? '6 3' : '');
    body.push(`<path d="${path ?? ''}" fill="none" stroke="${color}" stroke-width="1.6"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    // A point with no defined neighbour draws no line segment: a dot shows it (a single evaluation, or one between gaps).
    l.y.forEach((v, j) => {
      if (ok(v) && !ok(l.y[j - 1] ?? null) && !ok(l.y[j + 1] ?? null)) body.push(`<circle cx="${r(x(l.x[j]))}" cy="${r(y(v))}" r="3" fill="${color}"/>`);
    });
    const ly = M.top + 8 + i * 16;
    body.push(`<line x1="${W - right + 10}" x2="${W - right + 30}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/><text x="${W - right + LEGEND_TEXT_X}" y="${ly + 4}" ${FONT}>${esc(l.label)}</text>`);
  });
  return svg(body, spec.title);
}

/** The phase diagram of one decay as a heatmap of max test accuracy (mean over seeds), or null without cells. */
export function heatmapFigure(spec: HeatmapSpec, outcomes: readonly UnitOutcome[]): string | null {
  const cells = outcomes.filter((o) => o.unit.tags.decay === spec.decay);
  if (cells.length === 0) return null;
  const fractions = [...new Set(cells.map((o) => Number(o.unit.tags.fraction)))].sort((a, b) => a - b);
  const strengths = [...new Set(cells.map((o) => Number(o.unit.tags.strength)))].sort((a, b) => a - b);
  const cw = (W - M.left - M.right) / strengths.length;
  const ch = (H - M.top - M.bottom) / fractions.length;
  const color = scaleSequential(interpolateViridis).domain([0, 1]);
  const body: string[] = [];
  fractions.forEach((f, r) => {
    const yy = H - M.bottom - (r + 1) * ch;
    body.push(`<text x="${M.left - 6}" y="${yy + ch / 2 + 4}" ${FONT} text-anchor="end">${f}</text>`);
    strengths.forEach((s, c) => {
      const here = cells.filter((o) => Number(o.unit.tags.fraction) === f && Number(o.unit.tags.strength) === s).map((o) => o.result.metrics.maxTestAcc ?? 0);
      if (here.length === 0) return;
      const acc = here.reduce((a, b) => a + b, 0) / here.length;
      const xx = M.left + c * cw;
      body.push(`<rect x="${xx}" y="${yy}" width="${cw}" height="${ch}" fill="${color(acc)}" stroke="#fff"/>`);
      body.push(`<text x="${xx + cw / 2}" y="${yy + ch / 2 + 4}" ${FONT} text-anchor="middle" fill="${acc > 0.6 ? '#000' : '#fff'}">${acc.toFixed(3)}</text>`);
    });
  });
  strengths.forEach((s, c) => body.push(`<text x="${M.left + (c + 0.5) * cw}" y="${H - M.bottom + 14}" ${FONT} text-anchor="middle">${s}</text>`));
  body.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 6}" ${FONT} text-anchor="middle">${spec.decay === 'l2' ? 'weight decay' : 'Low-Rank Decay rate'}</text>`);
  body.push(`<text transform="translate(14 ${(M.top + H - M.bottom) / 2}) rotate(-90)" ${FONT} text-anchor="middle">train fraction</text>`);
  return svg(body, spec.title);
}

/** Every figure of the plan that has data: file name (".svg") -> SVG text. */
export function studyFigures(plan: { figures: FigureSpec[]; heatmaps: HeatmapSpec[] }, outcomes: readonly UnitOutcome[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of plan.figures) {
    const text = lineFigure(f, outcomes);
    if (text) out.set(`${f.name}.svg`, text);
  }
  for (const h of plan.heatmaps) {
    const text = heatmapFigure(h, outcomes);
    if (text) out.set(`${h.name}.svg`, text);
  }
  return out;
}
