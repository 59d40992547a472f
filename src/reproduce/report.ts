// A study's report from its finished units: every table row's values over the units (mean +- sd), what it is
// compared with (the paper's value with its source, or, for quick studies, the value this lab measured before) and
// the verdict (src/reproduce/compare.ts); the setup differences, the notes the units left (verdict classes, skipped
// analyses) and the wall times. report.json is this object (REPORT_SCHEMA); report.md renders it. Everything but
// `timing` depends only on the units' results, so two shards merged give the report one unsharded run gives.
import { compare, formatSpread, formatSummary, summarise, type RowVerdict, type Summary } from './compare';
import { PUBLISHED, sourceOf, type PublishedValue } from './published';
import { studyLabel, type StudyName, type StudyPlan, type UnitOutcome } from './study';

export const REPORT_KIND = 'spectral-edge-lab.reproduce-report';
export const REPORT_VERSION = 1;

export type Reference =
  | { kind: 'published'; text: string; source: string; note?: string }
  | { kind: 'expected'; text: string; source: string };

export interface ReportRow {
  quantity: string;
  task: string;
  /** Null: the lab reports the quantity without a value to compare with. */
  reference: Reference | null;
  lab: Summary;
  /** Null without a reference. */
  verdict: RowVerdict | null;
}

export interface Report {
  kind: typeof REPORT_KIND;
  version: typeof REPORT_VERSION;
  study: StudyName;
  quick: boolean;
  studyVersion: number;
  description: string;
  seeds: number[];
  stepsOverride: number | null;
  units: { planned: number; finished: number; missing: string[] };
  tables: { title: string; rows: ReportRow[] }[];
  tally: { inside: number; outside: number; notMeasured: number; noReference: number };
  notes: { unit: string; key: string; text: string }[];
  differences: string[];
  /** File names beside report.md: every figure as SVG, and as PNG where it was rasterised (the CLI; not the page). */
  figures: string[];
  timing: { adapters: string[]; units: { id: string; label: string; steps: number; wallMs: number }[]; totalMs: number };
}

function referenceOf(row: StudyPlan['tables'][number]['rows'][number]): { reference: Reference; spread: PublishedValue['value'] } | null {
  if (row.published) {
    const p: PublishedValue = PUBLISHED[row.published];
    return { reference: { kind: 'published', text: formatSpread(p.value), source: sourceOf(p), ...(p.note && { note: p.note }) }, spread: p.value };
  }
  if (row.expected) return { reference: { kind: 'expected', text: formatSpread(row.expected.value), source: row.expected.source }, spread: row.expected.value };
  return null;
}

export function buildReport(plan: StudyPlan, outcomes: readonly UnitOutcome[], figures: string[] = []): Report {
  const tally = { inside: 0, outside: 0, notMeasured: 0, noReference: 0 };
  const tables = plan.tables.map((t) => ({
    title: t.title,
    rows: t.rows.map((row): ReportRow => {
      const lab = summarise(row.values(outcomes).filter((v): v is number => v !== null));
      const ref = referenceOf(row);
      const verdict = ref ? compare(ref.spread, lab) : null;
      if (!verdict) tally.noReference++;
      else if (verdict.status === 'inside') tally.inside++;
      else if (verdict.status === 'outside') tally.outside++;
      else tally.notMeasured++;
      return { quantity: row.quantity, task: row.task, reference: ref?.reference ?? null, lab, verdict };
    }),
  }));
  const finished = new Set(outcomes.map((o) => o.unit.id));
  const adapters = [...new Set(outcomes.map((o) => o.result.adapter))];
  return {
    kind: REPORT_KIND,
    version: REPORT_VERSION,
    study: plan.name,
    quick: plan.quick,
    studyVersion: plan.version,
    description: plan.description,
    seeds: plan.seeds,
    stepsOverride: plan.stepsOverride,
    units: { planned: plan.units.length, finished: outcomes.length, missing: plan.units.filter((u) => !finished.has(u.id)).map((u) => u.id) },
    tables,
    tally,
    notes: outcomes.flatMap((o) => Object.entries(o.result.notes).map(([key, text]) => ({ unit: o.unit.id, key, text }))),
    differences: plan.differences,
    figures,
    timing: {
      adapters,
      units: outcomes.map((o) => ({ id: o.unit.id, label: o.unit.label, steps: o.result.steps, wallMs: o.result.wallMs })),
      totalMs: outcomes.reduce((s, o) => s + o.result.wallMs, 0),
    },
  };
}

const cell = (text: string) => text.replaceAll('|', '\\|');

function minutes(ms: number): string {
  const m = ms / 60_000;
  return m < 1 ? `${Math.round(ms / 1000)} s` : `${m.toFixed(1)} min`;
}

/** The report as Markdown: the tables, then the differences, notes, figures and timing. */
export function renderMarkdown(r: Report): string {
  const lines: string[] = [];
  const compared = r.quick ? 'this lab’s earlier measurement' : 'published';
  lines.push(`# Reproduction: ${studyLabel(r.study, r.quick)}`, '', r.description, '');
  lines.push(`Seeds: ${r.seeds.join(', ')}. Units: ${r.units.finished} of ${r.units.planned} finished${r.units.missing.length ? ` (missing: ${r.units.missing.join(', ')})` : ''}.`);
  if (r.stepsOverride !== null) {
    lines.push('', `**Every unit was shortened to ${r.stepsOverride} steps: a smoke test of the machinery, not a reproduction.** On Dyck and SCAN the post-hoc experiments (ablation, perturbation, curvature, probes, decay branches, verdict) were left out; the live probes measure the edge on their subset.`);
  }
  lines.push('', `Verdicts: ${r.tally.inside} inside, ${r.tally.outside} outside, ${r.tally.notMeasured} not measured; ${r.tally.noReference} rows without a value to compare with.`, '');
  for (const t of r.tables) {
    lines.push(`## ${t.title}`, '', `| quantity | task | ${compared} | this lab, mean ± sd | verdict | source |`, '|---|---|---|---|---|---|');
    for (const row of t.rows) {
      const ref = row.reference;
      lines.push(
        `| ${cell(row.quantity)} | ${cell(row.task)} | ${ref ? cell(ref.text) : '–'} | ${formatSummary(row.lab)} | ${row.verdict ? cell(row.verdict.text) : 'no reference'} | ${ref ? cell(ref.source + ('note' in ref && ref.note ? `; ${ref.note}` : '')) : ''} |`,
      );
    }
    lines.push('');
  }
  lines.push('## Differences from the papers’ setup', '', ...r.differences.map((d) => `- ${d}`), '');
  if (r.notes.length > 0) lines.push('## Notes from the units', '', ...r.notes.map((n) => `- ${n.unit}, ${n.key}: ${n.text}`), '');
  const svgs = r.figures.filter((f) => f.endsWith('.svg'));
  if (svgs.length > 0) {
    lines.push('## Figures', '');
    for (const svg of svgs) {
      const png = svg.replace(/\.svg$/, '.png');
      lines.push(r.figures.includes(png) ? `![${png}](${png}) ([SVG](${svg}))` : `![${svg}](${svg})`, '');
    }
  }
  lines.push('## Timing', '', `Adapter${r.timing.adapters.length === 1 ? '' : 's'}: ${r.timing.adapters.join('; ') || '–'}. Total ${minutes(r.timing.totalMs)}.`, '');
  lines.push('| unit | steps | wall time |', '|---|---|---|', ...r.timing.units.map((u) => `| ${u.label} | ${u.steps} | ${minutes(u.wallMs)} |`), '');
  return lines.join('\n');
}

const summarySchema = {
  type: 'object',
  required: ['values', 'n', 'mean', 'sd'],
  properties: { values: { type: 'array', items: { type: 'number' } }, n: { type: 'integer' }, mean: { type: ['number', 'null'] }, sd: { type: ['number', 'null'] } },
} as const;

/** JSON Schema (draft 7) of report.json. */
export const REPORT_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Spectral Edge Lab reproduction report',
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'version', 'study', 'quick', 'studyVersion', 'description', 'seeds', 'stepsOverride', 'units', 'tables', 'tally', 'notes', 'differences', 'figures', 'timing'],
  properties: {
    kind: { const: REPORT_KIND },
    version: { const: REPORT_VERSION },
    study: { type: 'string' },
    quick: { type: 'boolean' },
    studyVersion: { type: 'integer' },
    description: { type: 'string' },
    seeds: { type: 'array', items: { type: 'integer' } },
    stepsOverride: { type: ['integer', 'null'] },
    units: { type: 'object', required: ['planned', 'finished', 'missing'], properties: { planned: { type: 'integer' }, finished: { type: 'integer' }, missing: { type: 'array', items: { type: 'string' } } } },
    tables: {
      type: 'array',
      items: {
        type: 'object',
        required: ['title', 'rows'],
        properties: {
          title: { type: 'string' },
          rows: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['quantity', 'task', 'reference', 'lab', 'verdict'],
              properties: {
                quantity: { type: 'string' },
                task: { type: 'string' },
                reference: {
                  oneOf: [
                    { type: 'null' },
                    { type: 'object', required: ['kind', 'text', 'source'], properties: { kind: { enum: ['published', 'expected'] }, text: { type: 'string' }, source: { type: 'string' }, note: { type: 'string' } } },
                  ],
                },
                lab: summarySchema,
                verdict: {
                  oneOf: [
                    { type: 'null' },
                    {
                      type: 'object',
                      required: ['status', 'miss', 'ratio', 'text'],
                      properties: { status: { enum: ['inside', 'outside', 'not-measured'] }, miss: { type: ['number', 'null'] }, ratio: { type: ['number', 'null'] }, text: { type: 'string' } },
                    },
                  ],
                },
              },
            },
          },
        },
      },
    },
    tally: { type: 'object', required: ['inside', 'outside', 'notMeasured', 'noReference'] },
    notes: { type: 'array', items: { type: 'object', required: ['unit', 'key', 'text'] } },
    differences: { type: 'array', items: { type: 'string' } },
    figures: { type: 'array', items: { type: 'string' } },
    timing: { type: 'object', required: ['adapters', 'units', 'totalMs'] },
  },
} as const;
