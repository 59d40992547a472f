// The whole run configuration in the URL hash (TensorFlow-Playground style), so a link replays the same run:
//
//   #preset=quick-add&seed=3&wd=0.5&steps=800&gapflow=on&hyper=120:0.01:0.3,400:0.01:0&classroom=on
//   #preset=quick-add&seed=1&decay=lrd&lrd=0.02            (Low-Rank Decay at rate 0.02)
//   #preset=quick-add&seed=1&decay=lrd&lrd=0.02&lrdp=wq,wk,wv   (on W_Q, W_K and W_V)
//   #preset=quick-add&seed=1&causal=on&cevery=40&cseq=64       (live causal probes every 40 steps on 64 sequences)
//   #preset=quick-add&seed=1&p=17&frac=0.5&dmodel=32&heads=2   (the task, the model's size, AdamW's constants: §1)
//
// Only values that differ from the preset's defaults are written. `hyper` lists the mid-run changes as
// step:lr:weightDecay, applied after that many steps. `classroom=on` opens the page in classroom mode (it is
// how the page looks, not part of the run: it is written only when on); in classroom mode the live causal probes
// are on by default, so there `causal=off` is what a link says. Reading is strict: an unknown key, a preset that does not
// exist or a malformed change is reported (and the rest of the link still applies), never silently dropped.
import { PRESETS } from '../train/presets';
import { isPresetName } from '../formats/task';
import { validateSchedule } from '../worker/protocol';
import type { HyperChange } from '../formats/worker';
import { DEFAULT_PRESET, defaultForm, FORM_FIELDS, presetDefaults, type FormField, type RunForm } from './run-form';

/** The hash key of each form field (short, readable). */
const KEY_OF: Record<FormField, string> = {
  seed: 'seed',
  lr: 'lr',
  weightDecay: 'wd',
  decay: 'decay',
  lrdRate: 'lrd',
  lrdParams: 'lrdp',
  steps: 'steps',
  evalEvery: 'eval',
  op: 'op',
  window: 'window',
  snapshotEvery: 'snap',
  gapFlow: 'gapflow',
  causal: 'causal',
  causalEvery: 'cevery',
  causalSequences: 'cseq',
  causalRandom: 'crandom',
  causalEps: 'ceps',
  p: 'p',
  trainFraction: 'frac',
  batch: 'batch',
  nLayers: 'layers',
  dModel: 'dmodel',
  nHeads: 'heads',
  dFF: 'dff',
  norm: 'norm',
  qkNorm: 'qknorm',
  beta1: 'b1',
  beta2: 'b2',
  adamEps: 'aeps',
  clipNorm: 'clip',
};
const FIELD_OF = Object.fromEntries(Object.entries(KEY_OF).map(([field, key]) => [key, field as FormField]));

export interface HashState {
  form: RunForm;
  schedule: HyperChange[];
  /** Classroom mode (absent: off). */
  classroom?: boolean;
}

/** The hash (with its leading "#") for a form and schedule. */
export function encodeHash({ form, schedule, classroom = false }: HashState): string {
  const params = new URLSearchParams();
  params.set('preset', form.preset);
  const defaults = presetDefaults(form.preset, classroom);
  for (const field of FORM_FIELDS) {
    const value = form.values[field].trim();
    if (field === 'seed' || value !== defaults[field]) params.set(KEY_OF[field], value);
  }
  if (schedule.length > 0) params.set('hyper', schedule.map((c) => `${c.step}:${c.lr}:${c.weightDecay}`).join(','));
  if (classroom) params.set('classroom', 'on');
  // URLSearchParams escapes ':' and ','; both are safe in a fragment and keep the schedule readable.
  return `#${params.toString().replaceAll('%3A', ':').replaceAll('%2C', ',')}`;
}

export interface DecodedHash extends HashState {
  classroom: boolean;
  /** What could not be read, one message each; the state holds everything else the link said. */
  problems: string[];
}

function parseSchedule(text: string): HyperChange[] {
  const schedule = text.split(',').map((entry, i) => {
    const parts = entry.split(':');
    const numbers = parts.map((p) => (p.trim() === '' ? NaN : Number(p)));
    if (parts.length !== 3 || numbers.some((x) => !Number.isFinite(x))) {
      throw new RangeError(`hyper change ${i + 1} "${entry}" is not step:lr:weightDecay (e.g. 120:0.01:0.5)`);
    }
    const [step, lr, weightDecay] = numbers;
    return { step, lr, weightDecay };
  });
  validateSchedule(schedule);
  return schedule;
}

/** Reads a hash (with or without "#"); an empty hash is the default form. */
export function decodeHash(hash: string): DecodedHash {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const problems: string[] = [];
  const preset = params.get('preset') ?? DEFAULT_PRESET;
  // The defaults depend on classroom mode (the live causal probes): read it first.
  const form = defaultForm(isPresetName(preset) ? preset : DEFAULT_PRESET, params.get('classroom') === 'on');
  if (!isPresetName(preset)) problems.push(`the link names the preset "${preset}", which does not exist (presets: ${Object.keys(PRESETS).join(', ')}); showing ${DEFAULT_PRESET}`);
  let schedule: HyperChange[] = [];
  let classroom = false;
  for (const [key, value] of params) {
    if (key === 'preset') continue;
    if (key === 'classroom') {
      if (value === 'on' || value === 'off') classroom = value === 'on';
      else problems.push(`the link's classroom setting must be on or off, got "${value}"`);
      continue;
    }
    if (key === 'hyper') {
      try {
        schedule = parseSchedule(value);
      } catch (error) {
        problems.push(`the link's hyperparameter changes were not applied: ${(error as Error).message}`);
      }
    } else if (Object.hasOwn(FIELD_OF, key)) {
      form.values[FIELD_OF[key]] = value;
    } else {
      problems.push(`the link has an unknown setting "${key}" (known: preset, ${Object.values(KEY_OF).join(', ')}, hyper, classroom)`);
    }
  }
  return { form, schedule, classroom, problems };
}
