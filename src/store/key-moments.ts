// The key moments of a grokking run, read from the series the page has streamed so far (pure: the classroom
// walkthrough and its chart markers show what this returns, the tests feed it synthetic series and recorded runs):
//
//   memorisation  train accuracy >= 0.99;
//   grokking      test accuracy (SCAN: test sequence accuracy) >= 0.95; a multitask run, whose accuracy is every
//                 head's, groks at its grok event (the trainer's rule, src/train/metrics.ts);
//   decay-driven  from memorisation on, v1's gradient energy fraction below 0.5: weight decay moves the edge's top
//                 direction more than the gradient does;
//   edge-necessary  a live causal probe (runs with the probes on) in which removing the edge pair {v1, v2} costs at
//                 least 0.1 test accuracy while no random pair flips a single token (their largest |Δacc| below the
//                 probe's resolution): the model now needs its edge, and only its edge.
//
// A moment counts only once it has held for MOMENT_PERSISTENCE consecutive points (evaluations, spectral windows
// or probes), and is placed at the first of them: one noisy window (v1's energy fraction at 0.06, back at 0.93 a
// window later) or one lucky evaluation is not a moment. So a moment is seen one point after it happens.
//
// A moment that has not happened (yet) is null; NaN values never trigger one (NaN >= x is false). Besides the
// moments it reports where the run stands (the latest evaluation, and v1's energy fraction since memorisation, its
// lowest value included), so the walkthrough can say plainly that a moment has not come rather than invent it.
import { GROK_TEST_ACCURACY, grokStep } from '../train/metrics';
import type { RunEvent } from '../formats/metrics';

export const MEMORISATION_TRAIN_ACCURACY = 0.99;
export { GROK_TEST_ACCURACY };
/** Below this gradient energy fraction of v1, the edge's top direction is decay-driven. */
export const DECAY_DRIVEN_ENERGY = 0.5;
/** Removing the edge pair costs at least this much test accuracy (Δacc <= -0.1) when the edge is necessary. */
export const EDGE_NECESSARY_COST = 0.1;
/** Consecutive points (evaluations, spectral windows or probes) a threshold must hold for to be a moment. */
export const MOMENT_PERSISTENCE = 2;

export type KeyMomentKind = 'memorisation' | 'grokking' | 'decay-driven' | 'edge-necessary';

export interface KeyMoment {
  kind: KeyMomentKind;
  step: number;
  /** What crossed its threshold: train accuracy, test (grok) accuracy, v1's gradient energy fraction, or the edge's Δacc. */
  value: number;
}

export interface StepValue {
  step: number;
  value: number;
}

export interface KeyMoments {
  memorisation: KeyMoment | null;
  grokking: KeyMoment | null;
  decayDriven: KeyMoment | null;
  edgeNecessary: KeyMoment | null;
  /** The latest evaluation (null before the first). */
  latest: { step: number; trainAcc: number; testAcc: number } | null;
  /** v1's gradient energy fraction in the spectral records from memorisation on (empty before memorisation). */
  edgeSinceMemorisation: {
    /** Records at or after the memorisation step. */
    records: number;
    /** The latest and the lowest finite value among them (null: none finite). */
    latest: StepValue | null;
    lowest: StepValue | null;
  };
  /** The latest live causal probe (null: none, or the run has the probes off). */
  latestProbe: ProbeStanding | null;
}

/** Where the edge stands in one live causal probe. */
export interface ProbeStanding {
  step: number;
  edgeDeltaAcc: number;
  randomMaxAbsDelta: number;
  resolution: number;
}

export interface KeyMomentInputs {
  /** The evaluations: step, train accuracy and the accuracy the run groks on (test accuracy; SCAN: test sequence accuracy), row-aligned. */
  evaluations: { step: ArrayLike<number>; trainAcc: ArrayLike<number>; testAcc: ArrayLike<number> };
  /** The spectral records: step and v1's gradient energy fraction, row-aligned. */
  spectral: { step: ArrayLike<number>; energy1: ArrayLike<number> };
  /** The live causal probes (absent or empty: none): step, the edge's Δacc, the random pairs' largest |Δacc|, resolution. */
  causal?: { step: ArrayLike<number>; edgeDeltaAcc: ArrayLike<number>; randomMaxAbsDelta: ArrayLike<number>; resolution: ArrayLike<number> };
  events: readonly RunEvent[];
}

export const NO_KEY_MOMENTS: KeyMoments = {
  memorisation: null,
  grokking: null,
  decayDriven: null,
  edgeNecessary: null,
  latest: null,
  edgeSinceMemorisation: { records: 0, latest: null, lowest: null },
  latestProbe: null,
};

const rowsOf = (...columns: ArrayLike<number>[]) => Math.min(...columns.map((c) => c.length));

/**
 * The first row from which `test` passes for MOMENT_PERSISTENCE rows in a row, as a moment at that row (rows before
 * `from` are not looked at).
 */
function firstHeld(kind: KeyMomentKind, step: ArrayLike<number>, values: ArrayLike<number>, test: (v: number) => boolean, from = 0): KeyMoment | null {
  const n = rowsOf(step, values);
  let run = 0;
  for (let i = from; i < n; i++) {
    run = test(values[i]) ? run + 1 : 0;
    if (run === MOMENT_PERSISTENCE) {
      const at = i - MOMENT_PERSISTENCE + 1;
      return { kind, step: step[at], value: values[at] };
    }
  }
  return null;
}

/** Whether a probe shows the edge necessary: the edge pair costs >= 0.1 test accuracy, no random pair flips a token. */
export const edgeIsNecessary = (p: Omit<ProbeStanding, 'step'>): boolean =>
  p.edgeDeltaAcc <= -EDGE_NECESSARY_COST && p.randomMaxAbsDelta < p.resolution;

function probes(causal: KeyMomentInputs['causal']): { edgeNecessary: KeyMoment | null; latestProbe: ProbeStanding | null } {
  if (!causal) return { edgeNecessary: null, latestProbe: null };
  const n = rowsOf(causal.step, causal.edgeDeltaAcc, causal.randomMaxAbsDelta, causal.resolution);
  const at = (i: number): ProbeStanding => ({
    step: causal.step[i],
    edgeDeltaAcc: causal.edgeDeltaAcc[i],
    randomMaxAbsDelta: causal.randomMaxAbsDelta[i],
    resolution: causal.resolution[i],
  });
  let edgeNecessary: KeyMoment | null = null;
  let held = 0;
  for (let i = 0; i < n && !edgeNecessary; i++) {
    held = edgeIsNecessary(at(i)) ? held + 1 : 0;
    if (held === MOMENT_PERSISTENCE) {
      const first = at(i - MOMENT_PERSISTENCE + 1);
      edgeNecessary = { kind: 'edge-necessary', step: first.step, value: first.edgeDeltaAcc };
    }
  }
  return { edgeNecessary, latestProbe: n > 0 ? at(n - 1) : null };
}

export function detectKeyMoments({ evaluations, spectral, causal, events }: KeyMomentInputs): KeyMoments {
  const evalRows = rowsOf(evaluations.step, evaluations.trainAcc, evaluations.testAcc);
  const memorisation = firstHeld('memorisation', evaluations.step, evaluations.trainAcc, (v) => v >= MEMORISATION_TRAIN_ACCURACY);

  // Test accuracy when the run has it; a multitask run (its column all NaN here) has only its grok event.
  const byAccuracy = firstHeld('grokking', evaluations.step, evaluations.testAcc, (v) => v >= GROK_TEST_ACCURACY);
  const grokAt = grokStep(events);
  const grokEvent = events.find((e) => e.type === 'grok' && e.head === undefined && e.step === grokAt);
  const hasAccuracy = Array.prototype.some.call(evaluations.testAcc, (v: number) => Number.isFinite(v));
  const grokking =
    !hasAccuracy && grokEvent && grokEvent.type === 'grok' ? { kind: 'grokking' as const, step: grokEvent.step, value: grokEvent.value } : byAccuracy;

  let decayDriven: KeyMoment | null = null;
  const edgeSinceMemorisation: KeyMoments['edgeSinceMemorisation'] = { records: 0, latest: null, lowest: null };
  if (memorisation) {
    const n = rowsOf(spectral.step, spectral.energy1);
    let from = n;
    for (let i = 0; i < n; i++) {
      const step = spectral.step[i];
      const value = spectral.energy1[i];
      if (!(step >= memorisation.step)) continue;
      from = Math.min(from, i);
      edgeSinceMemorisation.records += 1;
      if (!Number.isFinite(value)) continue;
      edgeSinceMemorisation.latest = { step, value };
      if (!edgeSinceMemorisation.lowest || value < edgeSinceMemorisation.lowest.value) edgeSinceMemorisation.lowest = { step, value };
    }
    decayDriven = firstHeld('decay-driven', spectral.step, spectral.energy1, (v) => v < DECAY_DRIVEN_ENERGY, from);
  }

  const last = evalRows - 1;
  const latest = last >= 0 ? { step: evaluations.step[last], trainAcc: evaluations.trainAcc[last], testAcc: evaluations.testAcc[last] } : null;
  return { memorisation, grokking, decayDriven, latest, edgeSinceMemorisation, ...probes(causal) };
}

/** The moments in the order they happened (steps), for markers and the walkthrough's log. */
export function momentsInOrder(moments: KeyMoments): KeyMoment[] {
  return [moments.memorisation, moments.grokking, moments.decayDriven, moments.edgeNecessary].filter((m): m is KeyMoment => m !== null).sort((a, b) => a.step - b.step);
}

const sameStepValue = (a: StepValue | null, b: StepValue | null) => a === b || (a !== null && b !== null && a.step === b.step && Object.is(a.value, b.value));
const sameProbe = (a: ProbeStanding | null, b: ProbeStanding | null) =>
  a === b ||
  (a !== null && b !== null && a.step === b.step && Object.is(a.edgeDeltaAcc, b.edgeDeltaAcc) && Object.is(a.randomMaxAbsDelta, b.randomMaxAbsDelta) && Object.is(a.resolution, b.resolution));
const sameMoment = (a: KeyMoment | null, b: KeyMoment | null) => a === b || (a !== null && b !== null && a.kind === b.kind && a.step === b.step && Object.is(a.value, b.value));

/** Whether two results say the same (the store keeps the old object then, so nothing re-renders). */
export function sameKeyMoments(a: KeyMoments, b: KeyMoments): boolean {
  const la = a.latest;
  const lb = b.latest;
  return (
    sameMoment(a.memorisation, b.memorisation) &&
    sameMoment(a.grokking, b.grokking) &&
    sameMoment(a.decayDriven, b.decayDriven) &&
    sameMoment(a.edgeNecessary, b.edgeNecessary) &&
    sameProbe(a.latestProbe, b.latestProbe) &&
    (la === lb || (la !== null && lb !== null && la.step === lb.step && Object.is(la.trainAcc, lb.trainAcc) && Object.is(la.testAcc, lb.testAcc))) &&
    a.edgeSinceMemorisation.records === b.edgeSinceMemorisation.records &&
    sameStepValue(a.edgeSinceMemorisation.latest, b.edgeSinceMemorisation.latest) &&
    sameStepValue(a.edgeSinceMemorisation.lowest, b.edgeSinceMemorisation.lowest)
  );
}
