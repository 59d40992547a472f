// The history log beside a run's checkpoint files (DIR/history.jsonl): what the run recorded, appended at each
// checkpoint as one JSON line holding only what is new since the line before, so a save costs what changed, not
// the whole run. Each line starts from a mark (`from`: the lengths of the history it continues), so a run resumed
// from an earlier checkpoint appends its own continuation after the old one: reading takes each line from its mark.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HEAD_METRIC_KEYS, METRIC_KEYS, type MetricSeries, type RunMetrics } from '../formats/metrics';
import type { HistoryMark } from '../formats/checkpoint-file';
import { historyUpTo, markOf } from '../train/metrics';

export const HISTORY_LOG = 'history.jsonl';

/** One line: the history after `from`, up to the save. */
interface HistoryDelta {
  from: HistoryMark;
  series: MetricSeries;
  heads?: RunMetrics['heads'];
  events: RunMetrics['events'];
  spectral?: RunMetrics['spectral'];
  causal?: RunMetrics['causal'];
}

/** The entries of `m` after `from` (each list from its own mark). */
function deltaOf(m: RunMetrics, from: HistoryMark): HistoryDelta {
  const n = from.evaluations;
  return {
    from,
    series: Object.fromEntries(METRIC_KEYS.map((k) => [k, m.series[k].slice(n)])) as unknown as MetricSeries,
    ...(m.heads && { heads: { names: m.heads.names, ...Object.fromEntries(HEAD_METRIC_KEYS.map((k) => [k, m.heads![k].map((s) => s.slice(n))])) } as RunMetrics['heads'] }),
    events: m.events.slice(from.events),
    ...(m.spectral && { spectral: m.spectral.slice(from.spectral) }),
    ...(m.causal && { causal: m.causal.slice(from.causal) }),
  };
}

/** `m` cut to `delta.from`, then `delta` appended (in place). */
function apply(m: RunMetrics, delta: HistoryDelta): RunMetrics {
  const base = historyUpTo(m, delta.from);
  for (const k of METRIC_KEYS) base.series[k].push(...delta.series[k]);
  if (delta.heads) {
    base.heads ??= { names: delta.heads.names, ...Object.fromEntries(HEAD_METRIC_KEYS.map((k) => [k, delta.heads!.names.map(() => [])])) } as NonNullable<RunMetrics['heads']>;
    for (const k of HEAD_METRIC_KEYS) delta.heads[k].forEach((s, h) => base.heads![k][h].push(...s));
  }
  base.events.push(...delta.events);
  if (delta.spectral) (base.spectral ??= []).push(...delta.spectral);
  if (delta.causal) (base.causal ??= []).push(...delta.causal);
  return base;
}

/** Appends a run's new history to the log in `dir` (the first append of this process writes from `start`). */
export class HistoryLogWriter {
  constructor(
    private readonly dir: string,
    /** Where the history this process continues starts (a resumed checkpoint's mark; zero for a new run). */
    private saved: HistoryMark = { evaluations: 0, events: 0, spectral: 0, causal: 0 },
  ) {}

  /** Appends what `metrics` holds past the last append, up to `mark`. */
  append(metrics: RunMetrics, mark: HistoryMark = markOf(metrics)): void {
    const upTo = historyUpTo(metrics, mark);
    appendFileSync(join(this.dir, HISTORY_LOG), `${JSON.stringify(deltaOf(upTo, this.saved))}\n`);
    this.saved = mark;
  }
}

/** The history the log in `dir` holds (null when there is none); a damaged line is an error naming it. */
export function readHistoryLog(dir: string): RunMetrics | null {
  const file = join(dir, HISTORY_LOG);
  if (!existsSync(file)) return null;
  let metrics: RunMetrics = { series: Object.fromEntries(METRIC_KEYS.map((k) => [k, []])) as unknown as MetricSeries, events: [] };
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        metrics = apply(metrics, JSON.parse(line) as HistoryDelta);
      } catch (err) {
        throw new Error(`${file}: line ${i + 1} is damaged (${(err as Error).message})`);
      }
    });
  return metrics;
}
