// Plain-language descriptions of the presets for the task picker: what the model learns, how big it is and what
// to expect, so a first-time visitor can pick one without reading docs/science.md.
import { PRESETS } from '../train/presets';
import type { PresetName } from '../formats/task';
import { buildParamTable } from '../model/params';
import type { ModOp } from '../formats/task';

/** The modular-arithmetic operations as formulas (the form's and the link's names are the CLI's: x2xyy2, ...). */
export const OP_LABELS: Record<ModOp, string> = {
  add: 'x + y',
  sub: 'x − y',
  mul: 'x · y',
  x2y2: 'x² + y²',
  x2xyy2: 'x² + xy + y²',
  x3xy: 'x³ + xy',
};

/** Where the paper presets' models come from. */
const PAPER_MODEL = 'the model of “The Spectral Edge Thesis” (arXiv 2603.28964) and its follow-ups';

export interface PresetInfo {
  name: PresetName;
  /** A few words for the picker. */
  short: string;
  /** Two or three sentences: the task, the model, what happens. */
  description: string;
}

const TEXT: Partial<Record<PresetName, Omit<PresetInfo, 'name'>>> = {
  'quick-add': {
    short: '(x + y) mod 31 · ~500 steps',
    description:
      'Learn addition modulo 31 from 60% of all pairs, with a 1-layer transformer. It memorises the training pairs within a few dozen steps; with weight decay the test accuracy jumps much later, around step 450-550. The quickest way to watch grokking. ' +
      'After the grok, test accuracy drops briefly every 60 steps or so (to about 0.65) and recovers at the next evaluations: full-batch Adam at this high learning rate overshoots now and then (the loss spikes Thilak et al. 2022 call the slingshot); the model stays grokked.',
  },
  'quick-dyck': {
    short: 'bracket depth · 2 layers',
    description:
      'Read a string of "(" and ")" and say, at every position, how deeply nested it is. Test accuracy is high early; the interesting change is in the spectral edge, which turns decay-driven around step 600.',
  },
  'quick-multitask': {
    short: 'add, sub, mul, x²+y² mod 31',
    description:
      'One small trunk with four heads, one per operation modulo 31. The operations grok at different times; the per-task chart shows each.',
  },
  'quick-scan': {
    short: 'commands → actions · 1+1 layers',
    description:
      'SCAN at a CPU-sized scale: translate commands like "jump twice after walk left" into action sequences with a 1+1-layer encoder-decoder of width 32, minibatches of 16. Made for the quick reproduction study on machines without a GPU. It does not memorise or grok in its 1,000 steps (seed 42: token accuracy about 0.75, train and test); for the SCAN lifecycle use the paper preset on a GPU.',
  },
  modarith: {
    short: 'mod 97 · Thesis paper model',
    description:
      `Modular arithmetic with ${PAPER_MODEL}: 2 layers, 290,401 parameters, minibatches of 512 from half of all pairs. Groks after a few thousand steps; choose the operation below (x² + xy + y² and x³ + xy should not grok). Needs a real GPU.`,
  },
  dyck: {
    short: 'depth · Thesis paper model',
    description: `Dyck-1 bracket depth with ${PAPER_MODEL}: 2 layers, 273,421 parameters, trained on only 50 sequences. Groks around step 1,000.`,
  },
  multitask: {
    short: '4 ops mod 97 · paper size',
    description: `Four operations modulo 97 at the size of ${PAPER_MODEL}: one 2-layer trunk, one head per operation. Needs a real GPU.`,
  },
  scan: {
    short: 'commands → actions',
    description:
      'SCAN: translate commands like "jump twice after walk left" into action sequences, with a 3+3-layer encoder-decoder (about 4 million parameters). Groks on test sequence accuracy after a few thousand steps. Slow without a real GPU.',
  },
};

/** Every preset, quick ones first, each with its description and parameter count. */
export function presetInfos(): (PresetInfo & { params: number })[] {
  const order = Object.keys(TEXT) as PresetName[];
  const names = [...order.filter((n) => n in PRESETS), ...(Object.keys(PRESETS) as PresetName[]).filter((n) => !order.includes(n))];
  return names.map((name) => ({
    name,
    short: TEXT[name]?.short ?? PRESETS[name].task.kind,
    description: TEXT[name]?.description ?? `The ${name} preset (${PRESETS[name].task.kind}).`,
    params: buildParamTable(PRESETS[name].model).total,
  }));
}
