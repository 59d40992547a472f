// The Reproduce panel's state: which study is chosen (quick or full, abbreviated or not), its view from the worker
// (units, time estimate, the report so far and its figures), the progress of the unit in hand, and how the last run
// ended. The worker builds every report (src/worker/study-service.ts); this store only keeps the latest one.
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { StudyStop } from '../reproduce/runner';
import type { StudyEvent, StudyRequest, StudyView } from '../worker/study-service';

export type StudyPhase = 'idle' | 'running' | 'cancelling' | 'stopped' | 'done' | 'failed';

export type StudyProgressEvent = Extract<StudyEvent, { kind: 'progress' }>;

export interface ReproduceState {
  request: StudyRequest;
  /** The chosen study's view (null until the worker has answered for this request). */
  view: StudyView | null;
  progress: StudyProgressEvent | null;
  phase: StudyPhase;
  /** Why the last plan or run failed. */
  error: string | null;
  choose(patch: Partial<StudyRequest>): void;
  /** The worker's view of `request` (ignored when the choice has changed since it was asked for). */
  planned(request: StudyRequest, view: StudyView): void;
  /** The worker forgot the finished units of `request`: its view with none (the phase starts over). */
  discarded(request: StudyRequest, view: StudyView): void;
  begin(): void;
  event(event: StudyEvent): void;
  cancel(): void;
  /** The run ended: how, or why it failed. */
  settle(outcome: { stop: StudyStop } | { error: string }): void;
  fail(error: string): void;
}

const sameRequest = (a: StudyRequest, b: StudyRequest) => a.study === b.study && a.quick === b.quick && a.abbreviated === b.abbreviated;

export function createReproduceStore(): StoreApi<ReproduceState> {
  return createStore<ReproduceState>()((set, get) => ({
    request: { study: 'modes-modarith', quick: true, abbreviated: false },
    view: null,
    progress: null,
    phase: 'idle',
    error: null,
    choose: (patch) => {
      if (get().phase === 'running' || get().phase === 'cancelling') return;
      set((s) => ({ request: { ...s.request, ...patch }, view: null, phase: 'idle', error: null, progress: null }));
    },
    planned: (request, view) => {
      if (sameRequest(request, get().request)) set({ view });
    },
    discarded: (request, view) => {
      if (sameRequest(request, get().request)) set({ view, phase: 'idle', error: null });
    },
    begin: () => set({ phase: 'running', error: null, progress: null }),
    event: (event) => set(event.kind === 'progress' ? { progress: event } : { view: event.view, progress: null }),
    cancel: () => set((s) => (s.phase === 'running' ? { phase: 'cancelling' } : {})),
    settle: (outcome) =>
      set('error' in outcome ? { phase: 'failed', error: outcome.error, progress: null } : { phase: outcome.stop === 'done' ? 'done' : 'stopped', progress: null }),
    fail: (error) => set({ error }),
  }));
}
