// A run's history saved in steps: each step holds only what is new since the step before, starting from a mark (the
// lengths of the history it continues), so a save costs what changed, not the whole run. A run continued from an
// earlier checkpoint starts its steps from that checkpoint's mark: reading applies each step from its own mark, so
// what the abandoned continuation had added after it is dropped. The CLI's history log holds one step a line
// (src/cli/history-log.ts), the page's saved runs one step a record (src/worker/run-db.ts).
import type { HistoryMark } from './checkpoint-file';
import type { MetricSeries, RunMetrics } from './metrics';

/** One step of a saved history: the entries after `from`. */
export interface HistoryDelta {
  from: HistoryMark;
  series: MetricSeries;
  heads?: RunMetrics['heads'];
  events: RunMetrics['events'];
  spectral?: RunMetrics['spectral'];
  causal?: RunMetrics['causal'];
}
