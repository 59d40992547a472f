// The history log beside a run's checkpoint files (DIR/history.jsonl): what the run recorded, appended at each
// checkpoint as one JSON line holding only what is new since the line before (a HistoryDelta, src/formats/history.ts),
// so a save costs what changed, not the whole run. Each line starts from a mark (`from`: the lengths of the history
// it continues), so a run resumed from an earlier checkpoint appends its own continuation after the old one: reading
// takes each line from its mark.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunMetrics } from '../formats/metrics';
import type { HistoryMark } from '../formats/checkpoint-file';
import { NO_HISTORY, appendDelta, emptyMetrics, historyDelta, markOf } from '../train/metrics';

export const HISTORY_LOG = 'history.jsonl';

/** Appends a run's new history to the log in `dir` (the first append of this process writes from `start`). */
export class HistoryLogWriter {
  constructor(
    private readonly dir: string,
    /** Where the history this process continues starts (a resumed checkpoint's mark; zero for a new run). */
    private saved: HistoryMark = NO_HISTORY,
  ) {}

  /** Appends what `metrics` holds past the last append, up to `mark`. */
  append(metrics: RunMetrics, mark: HistoryMark = markOf(metrics)): void {
    appendFileSync(join(this.dir, HISTORY_LOG), `${JSON.stringify(historyDelta(metrics, this.saved, mark))}\n`);
    this.saved = mark;
  }
}

/** The history the log in `dir` holds (null when there is none); a damaged line is an error naming it. */
export function readHistoryLog(dir: string): RunMetrics | null {
  const file = join(dir, HISTORY_LOG);
  if (!existsSync(file)) return null;
  const metrics = emptyMetrics();
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        appendDelta(metrics, JSON.parse(line));
      } catch (err) {
        throw new Error(`${file}: line ${i + 1} is damaged (${(err as Error).message})`);
      }
    });
  return metrics;
}
