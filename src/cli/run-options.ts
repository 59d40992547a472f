// The task, model and optimiser options that `npm run experiment` and `npm run phase-diagram` share (--op, --p,
// --batch, the model's size and norms, --lr and AdamW's constants): read here, then checked by resolveRunConfig as a
// run's overrides, whose messages name the field.
import type { PhaseOverrides } from '../formats/phase-diagram-file';
import type { ModOp } from '../formats/task';
import type { NormKind } from '../formats/model-config';
import { MOD_OPS } from '../tasks/modarith';
import { integerOption, numberOption } from './args';

export const RUN_OPTIONS_USAGE = `task (default: the preset's):
  --op NAME              modular-arithmetic operation: ${Object.keys(MOD_OPS).join(', ')} (modarith presets)
  --p N                  the modulus, a prime from 3 to 997 (modarith and multitask presets; default 97 or 31)
  --batch N              sequences per minibatch (minibatch presets; the quick modular ones train on the whole
                         training set)
model size (docs/science.md §1; default: the preset's; the task sets the vocabulary, classes and positions):
  --layers N             transformer blocks (of each stack in the SCAN encoder-decoder)
  --d-model N            residual width
  --heads N              attention heads (must divide --d-model)
  --d-ff N               MLP hidden width
architecture (docs/science.md §4; default: the preset's pre-LayerNorm model):
  --norm layer|rms       every LayerNorm of the model, or RMSNorm instead (no mean subtraction, no bias)
  --qk-norm              RMS-normalise q and k per head before the dot product (learned gains, initialised to 1)
optimiser (docs/science.md §1; default: the preset's learning rate, AdamW with betas 0.9, 0.98, eps 1e-8 and
gradient-norm clip 1.0):
  --lr X                 learning rate
  --beta1 X --beta2 X    Adam's moment decay rates, in [0, 1)
  --adam-eps X           added to sqrt(v), > 0
  --clip X               the global gradient-norm clip, > 0`;

export const RUN_OPTIONS_DEFAULTS = {
  op: '', p: '', batch: '', layers: '', 'd-model': '', heads: '', 'd-ff': '', norm: '', 'qk-norm': false as boolean,
  lr: '', beta1: '', beta2: '', 'adam-eps': '', clip: '',
};

export type RunOptionArgs = typeof RUN_OPTIONS_DEFAULTS;

/** The overrides the flags ask for, only those given; throws UsageError for a flag that is not a number. */
export function runOptionOverrides(args: RunOptionArgs): PhaseOverrides {
  const overrides: PhaseOverrides = {
    op: args.op === '' ? undefined : (args.op as ModOp),
    p: integerOption('p', args.p),
    batch: integerOption('batch', args.batch),
    nLayers: integerOption('layers', args.layers),
    dModel: integerOption('d-model', args['d-model']),
    nHeads: integerOption('heads', args.heads),
    dFF: integerOption('d-ff', args['d-ff']),
    norm: args.norm === '' ? undefined : (args.norm as NormKind),
    qkNorm: args['qk-norm'] || undefined,
    lr: numberOption('lr', args.lr),
    beta1: numberOption('beta1', args.beta1),
    beta2: numberOption('beta2', args.beta2),
    eps: numberOption('adam-eps', args['adam-eps']),
    clipNorm: numberOption('clip', args.clip),
  };
  for (const key of Object.keys(overrides) as (keyof PhaseOverrides)[]) if (overrides[key] === undefined) delete overrides[key];
  return overrides;
}
