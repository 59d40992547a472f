// The classroom walkthrough's words: its steps (what to watch on which chart), one line per key moment (what
// happened, what it is waiting for, or, once the run is over, that it did not happen), and a running commentary
// on where the run stands. Pure functions of the store's key moments and the run's phase, so they are tested
// without a page.
import { DECAY_DRIVEN_ENERGY, EDGE_NECESSARY_COST, GROK_TEST_ACCURACY, MEMORISATION_TRAIN_ACCURACY, type KeyMomentKind, type KeyMoments } from '../store/key-moments';
import type { RunPhase } from '../formats/worker';

export interface WalkthroughStep {
  id: string;
  title: string;
  /** What to watch, and on which chart. */
  text: string;
  /** The moment this step waits for (its line is shown with the step). */
  moment?: KeyMomentKind;
}

export const WALKTHROUGH_STEPS: readonly WalkthroughStep[] = [
  {
    id: 'task',
    title: 'The task',
    text:
      'A one-layer transformer learns a + b mod 31 from 60% of all pairs and is tested on the other 40%, ' +
      'with weight decay 1, on this computer’s GPU. Start the run and watch the charts.',
  },
  {
    id: 'memorise',
    title: 'It memorises',
    text:
      'Accuracy: the train line shoots up to 1 within a few dozen steps, while the test line stays near zero. ' +
      'It has learnt the pairs it saw by heart, not the rule. Loss: train falls, test does not.',
    moment: 'memorisation',
  },
  {
    id: 'grok',
    title: 'It groks',
    text:
      'Keep watching the test line. Hundreds of steps later (around step 440 for seed 1) it climbs to 1: the model ' +
      'now gets pairs it never saw right. Weight decay makes this happen; without it the test line stays low.',
    moment: 'grokking',
  },
  {
    id: 'necessary',
    title: 'The edge becomes necessary',
    text:
      'Ablation over training: every few windows the lab removes the top two update directions {v₁, v₂} from the ' +
      'attention weights and tests again, and does the same with random pairs of directions as a control. When removing ' +
      `just these two costs at least ${EDGE_NECESSARY_COST} test accuracy while the random pairs change nothing, the model needs its edge.`,
    moment: 'edge-necessary',
  },
  {
    id: 'edge',
    title: 'The edge turns decay-driven',
    text:
      'The lower charts look at the last few parameter updates. v₁ is their top direction; its gradient energy ' +
      `fraction says what moves it: the gradient (1) or weight decay (0). Below ${DECAY_DRIVEN_ENERGY}, weight decay is in charge.`,
    moment: 'decay-driven',
  },
  {
    id: 'try',
    title: 'Try it yourself',
    text:
      'Run it again without weight decay: it still memorises, but the test line stays low. Or press [ and ] during ' +
      'a run to change the weight decay live. Press C to leave classroom mode for every chart and control.',
  },
];

export interface RunContext {
  phase: RunPhase;
  /** Whether the run on show tracks the spectral edge (null: no run). */
  spectral: boolean | null;
  /** Whether it runs the live causal probes (null or absent: no run). */
  causal?: boolean | null;
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

export const momentLines = (moments: KeyMoments, run: RunContext): MomentLine[] =>
  (['memorisation', 'grokking', 'edge-necessary', 'decay-driven'] as const).map((kind) => momentLine(kind, moments, run));

/** One sentence on where the run stands, updated at each evaluation. */
export function narration(moments: KeyMoments, run: RunContext): string {
  if (run.phase === 'preparing') return 'Preparing the GPU…';
  if (run.phase === 'recovering') return 'The GPU was lost: restoring the last checkpoint…';
  const { latest } = moments;
  if (!latest) return noRun(run.phase) ? 'Press “Start the run” (or Space) to begin.' : 'Training: the first evaluation is on its way.';
  const at = `Step ${stepText(latest.step)}`;
  const accuracies = `train accuracy ${fmt(latest.trainAcc)}, test ${fmt(latest.testAcc)}`;
  const paused = run.phase === 'paused' ? ' (paused)' : over(run.phase);
  if (moments.grokking) return `${at}${paused}: grokked, ${accuracies}.`;
  if (moments.memorisation) return `${at}${paused}: memorised but not generalising yet, ${accuracies}.`;
  return `${at}${paused}: memorising, ${accuracies}.`;
}

const over = (phase: RunPhase) => (phase === 'finished' ? ' (the run has ended)' : phase === 'viewing' ? ' (a saved run)' : '');
