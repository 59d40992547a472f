// Where a run's saved record ends (the store's copy of its history and analyses), and what the next save sends
// after it: only what is new, so a save costs what changed (src/formats/worker.ts: RunDelta).
import type { HistoryMark } from '../formats/checkpoint-file';
import type { RunMetrics } from '../formats/metrics';
import type { AnalysisFile } from '../formats/analysis-file';
import type { RunDelta } from '../formats/worker';
import { NO_HISTORY, historyDelta, markOf } from '../train/metrics';

export interface SavedMark {
  history: HistoryMark;
  analyses: number;
}

/** A run of which nothing is saved: its next save sends all of it. */
export const NOTHING_SAVED: SavedMark = Object.freeze({ history: NO_HISTORY, analyses: 0 });

/**
 * What a run's history and analyses hold after `saved` (copies of those entries only), and where they end. Take it
 * synchronously: the lists go on growing.
 */
export function deltaSince(saved: SavedMark, history: RunMetrics, analyses: readonly AnalysisFile[]): { delta: RunDelta; end: SavedMark } {
  const end = { history: markOf(history), analyses: analyses.length };
  return {
    delta: { history: historyDelta(history, saved.history, end.history), analyses: { from: saved.analyses, added: analyses.slice(saved.analyses) } },
    end,
  };
}
