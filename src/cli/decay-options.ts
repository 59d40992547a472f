// The weight-decay options of `npm run experiment` (--decay, --lrd-rate, --lrd-params): checked here with messages
// that name the flags, then handed to resolveRunConfig as the run's decay, lrdRate and lrdParams overrides.
import { DEFAULT_LRD_PARAMS, LRD_PARAMS, type DecayConfig, type LrdParam } from '../formats/optim';
import type { RunOverrides } from '../formats/run-file';
import { numberOption, UsageError } from './args';

export const DECAY_USAGE = `weight decay (docs/science.md §4):
  --decay l2|lrd         l2 (default): AdamW's decoupled decay on every parameter; lrd: Low-Rank Decay, each step
                         after AdamW W <- W - rate polar(W) (5 Newton-Schulz iterations) for the chosen matrices of
                         every attention module, which then get no AdamW decay (the others keep --wd)
  --lrd-rate X           the Low-Rank Decay rate per step (required with --decay lrd; >= 0, not scaled by lr)
  --lrd-params LIST      the matrices, comma-separated from ${LRD_PARAMS.join(',')} (default ${DEFAULT_LRD_PARAMS.join(',')})`;

export const DECAY_DEFAULTS = { decay: '', 'lrd-rate': '', 'lrd-params': '' };

export type DecayArgs = typeof DECAY_DEFAULTS;

/** The decay overrides the flags ask for (only those given); throws UsageError naming the flag that is wrong. */
export function decayOverrides(args: DecayArgs): Pick<RunOverrides, 'decay' | 'lrdRate' | 'lrdParams'> {
  const { decay } = args;
  if (decay !== '' && decay !== 'l2' && decay !== 'lrd') throw new UsageError(`--decay must be l2 or lrd, got "${decay}"`);
  const lrdFlags = (['lrd-rate', 'lrd-params'] as const).filter((k) => args[k] !== '');
  if (decay !== 'lrd') {
    if (lrdFlags.length > 0) throw new UsageError(`${lrdFlags.map((k) => `--${k}`).join(' and ')} need${lrdFlags.length > 1 ? '' : 's'} --decay lrd`);
    return decay === '' ? {} : { decay };
  }
  const lrdRate = numberOption('lrd-rate', args['lrd-rate']);
  if (lrdRate === undefined) throw new UsageError('--decay lrd needs --lrd-rate X (each step W <- W - X polar(W))');
  if (lrdRate < 0) throw new UsageError(`--lrd-rate must be >= 0, got ${lrdRate}`);
  if (args['lrd-params'] === '') return { decay, lrdRate };
  const lrdParams = args['lrd-params'].split(',').map((p) => p.trim());
  for (const p of lrdParams) {
    if (!(LRD_PARAMS as readonly string[]).includes(p)) throw new UsageError(`--lrd-params: unknown matrix "${p}"; choose from ${LRD_PARAMS.join(', ')}`);
  }
  if (new Set(lrdParams).size !== lrdParams.length) throw new UsageError(`--lrd-params names a matrix twice: ${args['lrd-params']}`);
  return { decay, lrdRate, lrdParams: lrdParams as LrdParam[] };
}

/** "wd 1" or "low-rank decay 0.01 on wq, wk (AdamW wd 1 elsewhere)", for the run's first line. */
export function describeDecay(decay: DecayConfig, weightDecay: number): string {
  return decay.kind === 'l2' ? `wd ${weightDecay}` : `low-rank decay ${decay.rate} on ${decay.params.join(', ')} (AdamW wd ${weightDecay} elsewhere)`;
}
