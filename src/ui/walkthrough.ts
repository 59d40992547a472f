// The classroom walkthrough's words: its steps (what to watch on which chart), one line per key moment (what
// happened, what it is waiting for, or, once the run is over, that it did not happen), and a running commentary
// on where the run stands. Pure functions of the store's key moments and the run's phase, so they are tested
// without a page.
import { DECAY_DRIVEN_ENERGY, EDGE_NECESSARY_COST, GROK_TEST_ACCURACY, MEMORISATION_TRAIN_ACCURACY, type KeyMoment, type KeyMomentKind, type KeyMoments } from '../store/key-moments';
import type { RunPhase } from '../formats/worker';

export interface WalkthroughStep {
  id: string;
  title: string;
  /** What to watch, and on which chart. */
  text: string;
  /** The moment this step waits for (its line is shown with the step). */
  moment?: KeyMomentKind;
}

/**
 * The classroom run: quick-dyck (docs/science.md §1) with its spectral window of 5 updates taken every 50 steps (the preset's
 * default is every 100), so the edge is on the charts from step 250 and is seen turning decay-driven. Measured on
 * the real engine for seeds 1, 2, 3 and 42 (test/classroom-run.test.ts, on recorded runs): every key moment happens
 * and holds. quick-add, the classic delayed grok, was the walkthrough's run before; its v1 stays gradient-driven
 * (lowest gradient energy fraction about 0.6), so the lesson's last moment never came there.
 */
export const CLASSROOM_RUN = { preset: 'quick-dyck', values: { snapshotEvery: '50' } } as const;

export const WALKTHROUGH_STEPS: readonly WalkthroughStep[] = [
  {
    id: 'task',
    title: 'The task',
    text:
      'A two-layer transformer reads strings of brackets such as ( ( ) ( ) ) and says, after every bracket, how deeply ' +
      'nested the string is. It trains on only 50 strings and is tested on 5,000 others, on this computer’s GPU. Start ' +
      'the run and watch the charts.',
  },
  {
    id: 'memorise',
    title: 'It learns its 50 strings',
    text:
      'Accuracy: the train line climbs to 1 within about 150 steps: the model gets every position of its 50 training ' +
      'strings right. The test line climbs too, more slowly: depth is easy to half-learn. Loss: both fall.',
    moment: 'memorisation',
  },
  {
    id: 'grok',
    title: 'It generalises',
    text:
      `The test line passes ${GROK_TEST_ACCURACY}: the model now tracks the depth of strings it has never seen, from only 50 ` +
      'examples. Here that comes soon after the training set is learnt; the change that follows is inside the model.',
    moment: 'grokking',
  },
  {
    id: 'edge',
    title: 'The edge turns decay-driven',
    text:
      'The lower charts look at the last five parameter updates (one every 50 steps). v₁ is their top direction; its ' +
      'gradient energy fraction says what moves it: the gradient (1) or weight decay (0). Once the task is learnt the ' +
      `gradient has little left to do: the fraction falls below ${DECAY_DRIVEN_ENERGY} and stays there, and the gap g₂₃ shrinks. ` +
      'Weight decay is now in charge, compressing the model.',
    moment: 'decay-driven',
  },
  {
    id: 'necessary',
    title: 'The edge becomes necessary',
    text:
      'The live ablation chart: every 200 steps the lab removes the two directions {v₁, v₂} from the attention weights ' +
      'and tests again, and does the same with random pairs of directions as a control. When removing just these two ' +
      `costs at least ${EDGE_NECESSARY_COST} test accuracy while the random pairs change nothing, the model needs its edge: ` +
      'the directions weight decay now drives are the ones the model computes with.',
    moment: 'edge-necessary',
  },
  {
    id: 'try',
    title: 'Try it yourself',
    text:
      'Run it again without weight decay: nothing then pulls on the parameters but the gradient, so v₁’s fraction stays ' +
      'at 1 and the edge never turns. Or press [ and ] during a run to change the weight decay live. For the classic ' +
      'delayed grok, leave classroom mode (C) and train quick-add, a + b mod 31: it memorises its pairs in a few dozen ' +
      'steps and generalises only around step 450.',
  },
];

export interface RunContext {
  phase: RunPhase;
  /** Whether the run on show tracks the spectral edge (null: no run). */
  spectral: boolean | null;
  /** Whether it runs the live causal probes (null or absent: no run). */
  causal?: boolean | null;
  /** The run on show is a recording played back. */
  recording?: boolean;
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
const stepText = (step: number) => step.toLocaleString('en');

/** A run that will not get further: finished, or shown from a file. */
const ended = (phase: RunPhase) => phase === 'finished' || phase === 'viewing';
const noRun = (phase: RunPhase) => phase === 'idle' || phase === 'failed';

export interface MomentLine {
  kind: KeyMomentKind;
  title: string;
  /** 'seen': it happened; 'waiting': not yet; 'missed': the run ended without it (or cannot show it). */
  state: 'seen' | 'waiting' | 'missed';
  text: string;
}

export const MOMENT_TITLE: Record<KeyMomentKind, string> = {
  memorisation: 'Memorisation',
  grokking: 'Grokking',
  'decay-driven': 'Decay-driven edge',
  'edge-necessary': 'Necessary edge',
};

const signed = (v: number) => (Number.isFinite(v) ? (v < 0 ? `−${(-v).toFixed(2)}` : v.toFixed(2)) : 'n/a');

/** What the walkthrough says about the edge becoming necessary (from the live causal probes). */
function edgeNecessaryLine(moments: KeyMoments, run: RunContext): MomentLine {
  const line = (state: MomentLine['state'], text: string): MomentLine => ({ kind: 'edge-necessary', title: MOMENT_TITLE['edge-necessary'], state, text });
  const e = moments.edgeNecessary;
  if (e) return line('seen', `The edge became necessary at step ${stepText(e.step)}: removing {v₁, v₂} cost ${signed(e.value)} test accuracy, while random pairs flipped no token.`);
  if (run.causal === false) return line('missed', 'Cannot be seen: this run does not run the live causal probes (switch on “Live causal probes” and start again).');
  const p = moments.latestProbe;
  if (!p) {
    if (ended(run.phase)) return line('missed', 'It did not happen in this run: no live causal probe was recorded.');
    return line('waiting', noRun(run.phase) ? 'Not yet: start the run.' : 'Not yet: waiting for the first live causal probe.');
  }
  const randomNote = p.randomMaxAbsDelta < p.resolution ? 'random pairs flip no token' : `random pairs change up to ${fmt(p.randomMaxAbsDelta)}`;
  const where = `removing {v₁, v₂} costs ${signed(p.edgeDeltaAcc)} test accuracy at step ${stepText(p.step)}, ${randomNote}`;
  if (ended(run.phase)) return line('missed', `It did not happen in this run: the edge never cost ${EDGE_NECESSARY_COST} test accuracy with random pairs below one token (latest probe: ${where}).`);
  return line('waiting', `Not yet: ${where} (necessary at −${EDGE_NECESSARY_COST} with random pairs below one token).`);
}

/** What the walkthrough says about one key moment now. */
export function momentLine(kind: KeyMomentKind, moments: KeyMoments, run: RunContext): MomentLine {
  const line = (state: MomentLine['state'], text: string): MomentLine => ({ kind, title: MOMENT_TITLE[kind], state, text });
  const { latest } = moments;
  const over = ended(run.phase);
  if (kind === 'edge-necessary') return edgeNecessaryLine(moments, run);
  if (kind === 'memorisation') {
    const m = moments.memorisation;
    if (m) return line('seen', `Memorised at step ${stepText(m.step)}: train accuracy ${fmt(m.value)}.`);
    if (!latest) return line('waiting', noRun(run.phase) ? 'Not yet: start the run.' : 'Not yet: waiting for the first evaluation.');
    const where = `train accuracy ${fmt(latest.trainAcc)} at step ${stepText(latest.step)}`;
    if (over) return line('missed', `It did not happen in this run: train accuracy stayed below ${MEMORISATION_TRAIN_ACCURACY} (${where}, the last evaluation).`);
    return line('waiting', `Not yet: ${where} (memorised at ${MEMORISATION_TRAIN_ACCURACY}).`);
  }
  if (kind === 'grokking') {
    const g = moments.grokking;
    if (g) return line('seen', `Grokked at step ${stepText(g.step)}: test accuracy ${fmt(g.value)}.`);
    if (!latest) return line('waiting', noRun(run.phase) ? 'Not yet: start the run.' : 'Not yet: waiting for the first evaluation.');
    const where = `test accuracy ${fmt(latest.testAcc)} at step ${stepText(latest.step)}`;
    if (over) return line('missed', `It did not happen in this run: test accuracy stayed below ${GROK_TEST_ACCURACY} (${where}, the last evaluation).`);
    return line('waiting', `Not yet: ${where} (grokked at ${GROK_TEST_ACCURACY}).`);
  }
  const d = moments.decayDriven;
  if (d) return line('seen', `The edge turned decay-driven at step ${stepText(d.step)}: v₁’s gradient energy fraction fell to ${fmt(d.value)}.`);
  if (run.spectral === false) return line('missed', 'Cannot be seen: this run does not track the spectral edge.');
  if (!moments.memorisation) {
    if (over) return line('missed', 'It did not happen in this run: the model never memorised, and this moment is looked for only after that.');
    return line('waiting', 'Not yet: looked for once the model has memorised.');
  }
  const { records, latest: energy, lowest } = moments.edgeSinceMemorisation;
  if (over) {
    if (!lowest) return line('missed', `It did not happen in this run: there was no spectral record with a value after memorisation.`);
    return line(
      'missed',
      `It did not happen in this run: after memorisation v₁’s gradient energy fraction never fell below ${DECAY_DRIVEN_ENERGY} (lowest ${fmt(lowest.value)}, at step ${stepText(lowest.step)}).`,
    );
  }
  if (records === 0 || !energy) return line('waiting', 'Not yet: waiting for the first spectral record since memorisation.');
  return line('waiting', `Not yet: v₁’s gradient energy fraction is ${fmt(energy.value)} at step ${stepText(energy.step)} (decay-driven below ${DECAY_DRIVEN_ENERGY}).`);
}

const MOMENT_OF: Record<KeyMomentKind, (m: KeyMoments) => KeyMoment | null> = {
  memorisation: (m) => m.memorisation,
  grokking: (m) => m.grokking,
  'decay-driven': (m) => m.decayDriven,
  'edge-necessary': (m) => m.edgeNecessary,
};

/** Which moments have happened, as a count (they never un-happen within a run). */
const seenCount = (m: KeyMoments) => Object.values(MOMENT_OF).filter((of) => of(m) !== null).length;

/** A run that is going: training, or a recording playing. */
export const isGoing = (phase: RunPhase) => phase === 'running' || phase === 'playing';

/**
 * The walkthrough follows the run: when a moment happens, it moves on to the step that waits for the first moment
 * not seen yet (the last step once all have happened), never back, and only while the run is going (`going`: it was
 * going when the moments came, the batch that ends it included; a saved run opened whole does not jump the reader
 * to the end).
 */
export function followRun(current: number, before: KeyMoments, after: KeyMoments, going: boolean): number {
  if (!going || seenCount(after) <= seenCount(before)) return current;
  const waiting = WALKTHROUGH_STEPS.findIndex((s) => s.moment !== undefined && MOMENT_OF[s.moment](after) === null);
  return Math.max(current, waiting < 0 ? WALKTHROUGH_STEPS.length - 1 : waiting);
}

/** The run's settings as the walkthrough states them: its weight decay as it started and, after a live change, as it is now. */
export function settingsText(run: { preset: string; seed: number; steps: number; weightDecay: number }, nowWeightDecay: number | null): string {
  const wd = nowWeightDecay !== null && nowWeightDecay !== run.weightDecay ? `weight decay ${run.weightDecay}, now ${nowWeightDecay}` : `weight decay ${run.weightDecay}`;
  return `This run: ${run.preset}, seed ${run.seed}, ${wd}, ${run.steps.toLocaleString('en')} steps.`;
}

/** Every key moment's line, in the walkthrough's order. */
export const momentLines = (moments: KeyMoments, run: RunContext): MomentLine[] =>
  WALKTHROUGH_STEPS.flatMap((s) => (s.moment ? [momentLine(s.moment, moments, run)] : []));

/** One sentence on where the run stands, updated at each evaluation. */
export function narration(moments: KeyMoments, run: RunContext): string {
  if (run.phase === 'preparing') return 'Preparing the GPU…';
  if (run.phase === 'recovering') return 'The GPU was lost: restoring the last checkpoint…';
  const { latest } = moments;
  if (!latest) return noRun(run.phase) ? 'Press “Start the run” (or Space) to begin.' : 'Training: the first evaluation is on its way.';
  const at = `Step ${stepText(latest.step)}`;
  const accuracies = `train accuracy ${fmt(latest.trainAcc)}, test ${fmt(latest.testAcc)}`;
  const paused = run.phase === 'paused' ? ' (paused)' : run.recording ? (run.phase === 'playing' ? ' (a recording)' : ' (a recording, played to its end)') : over(run.phase);
  if (moments.grokking) return `${at}${paused}: grokked, ${accuracies}.`;
  if (moments.memorisation) return `${at}${paused}: memorised but not generalising yet, ${accuracies}.`;
  return `${at}${paused}: memorising, ${accuracies}.`;
}

const over = (phase: RunPhase) => (phase === 'finished' ? ' (the run has ended)' : phase === 'viewing' ? ' (a saved run)' : '');
