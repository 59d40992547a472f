// The experiment panels' own state, beside the lab store (whose `analyses` hold the results the worker sent): the
// request in progress, its failure, and which of the run's analyses is on show.
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { ExperimentName } from '../formats/experiments';

export interface ExperimentRequestState {
  /** What the worker will run (the verdict brings the sweep and the ablation). */
  planned: ExperimentName[];
  /** The run's step when it was sent. */
  step: number;
}

export interface ExperimentsState {
  request: ExperimentRequestState | null;
  /** Why the last request failed (null: it did not). */
  error: string | null;
  /** Cancel was pressed and the request has not ended yet. */
  cancelling: boolean;
  /** The index of the analysis on show in the lab store's `analyses` (null: the newest). */
  shown: number | null;
  begin(request: ExperimentRequestState): void;
  cancel(): void;
  /** The request in progress ended: `error` null when it succeeded (the newest analysis is then shown). */
  settle(error: string | null): void;
  show(index: number | null): void;
}

export function createExperimentsStore(): StoreApi<ExperimentsState> {
  return createStore<ExperimentsState>()((set) => ({
    request: null,
    error: null,
    cancelling: false,
    shown: null,
    begin: (request) => set({ request, error: null, cancelling: false }),
    cancel: () => set((s) => (s.request ? { cancelling: true } : {})),
    settle: (error) => set(error === null ? { request: null, error: null, cancelling: false, shown: null } : { request: null, error, cancelling: false }),
    show: (shown) => set({ shown }),
  }));
}

/** The analysis on show: the chosen one while it exists, else the newest (null when there is none). */
export function shownAnalysisIndex(shown: number | null, count: number): number | null {
  if (count === 0) return null;
  return shown !== null && shown >= 0 && shown < count ? shown : count - 1;
}
