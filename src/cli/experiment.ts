// `npm run experiment -- --preset <name> [options]`: trains one run of a preset on this machine's WebGPU
// adapter with a progress bar, writes the run file (src/train/run.ts) and prints the grok step; optionally writes
// checkpoint files (src/train/checkpoint-file.ts) and resumes from one. Spectral options (window, cadence, subset,
// centring, K, gap flow, solver) become the run's spectral overrides, and the task, model and optimiser options
// (src/cli/run-options.ts, shared with the phase diagram) theirs, all validated by resolveRunConfig.
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { acquireNodeDevice } from '../gpu/node-gpu';
import { GpuRuntime } from '../gpu/runtime';
import { PRESETS } from '../train/presets';
import { SOLVED_TEST_ACCURACY } from '../train/metrics';
import { resolveRunConfig } from '../train/run';
import type { RunConfig, RunOverrides } from '../formats/run-file';
import { createTrainer } from '../analysis/live-causal';
import type { Checkpoint } from '../train/checkpoint';
import { decodeCheckpoint, encodeCheckpoint, type DecodedCheckpoint } from '../train/checkpoint-file';
import { decodeContainer } from '../formats/checkpoint-file';
import { HistoryLogWriter, readHistoryLog } from './history-log';
import type { SpectralSolver } from '../formats/spectral';
import { integerOption, numberOption, parseArgs, UsageError, runCli } from './args';
import { DECAY_DEFAULTS, DECAY_USAGE, decayOverrides, describeDecay } from './decay-options';
import { RUN_OPTIONS_DEFAULTS, RUN_OPTIONS_USAGE, runOptionOverrides } from './run-options';
import { decayOf } from '../formats/optim';
import { ProgressPrinter, formatDuration } from './progress';
import { checkWritable, writeAtomically } from './outputs';

const USAGE = `usage: npm run experiment -- --preset <${Object.keys(PRESETS).join('|')}> [options]
  --seed N          run seed: initialisation, data split, batch sampling (default 42)
  --wd X            weight decay (default: the preset's)
  --steps N         optimiser steps (default: the preset's)
  --eval-every N    evaluation cadence in steps (default: the preset's)
  --train-fraction F     the fraction of all pairs that trains, in (0, 1) (modarith and multitask presets)
  --early-stop K    stop once test accuracy has been >= ${SOLVED_TEST_ACCURACY} for K evaluations in a row (default: off)
  --out FILE        run file to write (default runs/<preset>-seed<seed>.json)
  --checkpoint-every N   write a checkpoint file every N steps (a multiple of the evaluation cadence)
  --checkpoint-dir DIR   where checkpoints go (default: the run file's name without .json, plus -checkpoints);
                         a diverged run also writes its last good checkpoint there as last-good.ckpt
  --resume FILE.ckpt     continue the run saved in a checkpoint file (its configuration; --steps may extend it,
                         --early-stop K replaces its early-stop rule, 0 turns it off)
${RUN_OPTIONS_USAGE}
${DECAY_USAGE}
spectral edge (on by default; records go into the run file's "spectral" array):
  --no-spectral          do not track it
  --window W             deltas per window (default: the preset's, 5 or 10)
  --snapshot-every N     steps per delta (default: the preset's)
  --subset attn|all      theta_attn (default) or every parameter
  --centred              centre each window
  --edge-k K             edge vectors per window (default min(4, W))
  --gap-flow             also measure the gap-flow terms at each window (curvature and gradient along v_k*, v_k*+1)
  --solver gram|lanczos  spectrum by the W x W Gram matrix (default, all W singular values) or by matrix-free
                         Lanczos on X^T X on the GPU (the top min(W, K+1), with residuals in each record)
live causal probes (off by default; records go into the run file's "causal" array, the latest on the progress line):
  --live-causal          ablate and perturb the edge, and measure its curvature, while the run trains
  --causal-every N       steps between probes, a multiple of --snapshot-every (default: the preset's, chosen to
                         cost at most 10% of the training time on SwiftShader; larger is cheaper)
  --causal-subset M      test sequences the probes score (a fixed seeded subset; default 256, Dyck and SCAN 64)
  --causal-random R      random 2-direction pairs per probe, the control (default 4)
  --causal-eps X         perturbation size relative to ||theta_attn|| (default 0.005)
exit codes: 0 done, 1 diverged or failed, 2 bad arguments or an output that cannot be written, 130 interrupted (Ctrl-C:
  the partial run file and a checkpoint of the step it stopped at are written; --resume that checkpoint continues it)
errors are one line; DEBUG=1 prints the stack too`;

const DEFAULTS = {
  preset: '', seed: '42', wd: '', steps: '', 'eval-every': '', 'train-fraction': '', 'early-stop': '', out: '',
  'checkpoint-every': '', 'checkpoint-dir': '', resume: '', help: false, ...DECAY_DEFAULTS,
  'no-spectral': false, window: '', 'snapshot-every': '', subset: '', centred: false, 'edge-k': '', 'gap-flow': false, solver: '',
  ...RUN_OPTIONS_DEFAULTS,
  'live-causal': false, 'causal-every': '', 'causal-subset': '', 'causal-random': '', 'causal-eps': '',
};

interface ExperimentPlan {
  config: RunConfig;
  out: string;
  /** Steps between checkpoint files (undefined: none), and their folder. */
  checkpointEvery?: number;
  checkpointDir: string;
  resumeFrom?: DecodedCheckpoint;
}

/** The run configuration and output path the arguments ask for; throws UsageError (or RunConfigError) on a bad one. */
function parseExperimentArgs(argv: string[]): ExperimentPlan | 'help' {
  const args = parseArgs(argv, DEFAULTS);
  if (args.help) return 'help';
  if (args.resume !== '') return resumePlan(args);
  if (args.preset === '') throw new UsageError('--preset (or --resume) is required');
  const earlyStopK = earlyStopOption(args);
  const overrides: RunOverrides = {
    ...runOptionOverrides(args),
    weightDecay: numberOption('wd', args.wd),
    ...decayOverrides(args),
    steps: integerOption('steps', args.steps),
    evalEvery: integerOption('eval-every', args['eval-every']),
    trainFraction: numberOption('train-fraction', args['train-fraction']),
    earlyStop: earlyStopK === undefined ? undefined : earlyStopRule(earlyStopK),
    spectral: spectralOverrides(args),
    causal: causalOverrides(args),
  };
  // Only the options given are recorded as overrides.
  for (const key of Object.keys(overrides) as (keyof RunOverrides)[]) if (overrides[key] === undefined) delete overrides[key];
  const seed = integerOption('seed', args.seed) ?? 42;
  const config = resolveRunConfig(args.preset, seed, overrides);
  return withCheckpointOptions(args, config, args.out || `runs/${config.preset}-seed${seed}.json`);
}

/** --early-stop K (undefined: not given). */
function earlyStopOption(args: typeof DEFAULTS): number | undefined {
  const k = integerOption('early-stop', args['early-stop']);
  if (k !== undefined && k < 0) throw new UsageError(`--early-stop must be >= 0, got ${k}`);
  return k;
}

/** The early-stop rule of --early-stop K; K = 0: none. */
const earlyStopRule = (k: number) => (k > 0 ? { testAccuracy: SOLVED_TEST_ACCURACY, evaluations: k } : undefined);

/** The spectral options given on the command line (undefined when none). */
function spectralOverrides(args: typeof DEFAULTS): RunOverrides['spectral'] {
  const given: NonNullable<RunOverrides['spectral']> = {};
  if (args['no-spectral']) given.enabled = false;
  if (args.centred) given.centred = true;
  if (args['gap-flow']) given.gapFlow = true;
  const window = integerOption('window', args.window);
  if (window !== undefined) given.window = window;
  const every = integerOption('snapshot-every', args['snapshot-every']);
  if (every !== undefined) given.snapshotEvery = every;
  const k = integerOption('edge-k', args['edge-k']);
  if (k !== undefined) given.k = k;
  if (args.subset !== '') given.subset = args.subset as 'attn' | 'all';
  if (args.solver !== '') given.solver = args.solver as SpectralSolver;
  return Object.keys(given).length > 0 ? given : undefined;
}

/** The live causal options given on the command line (undefined without --live-causal; its options need it). */
function causalOverrides(args: typeof DEFAULTS): RunOverrides['causal'] {
  const given = {
    every: integerOption('causal-every', args['causal-every']),
    sequences: integerOption('causal-subset', args['causal-subset']),
    randomPairs: integerOption('causal-random', args['causal-random']),
    epsRelative: numberOption('causal-eps', args['causal-eps']),
  };
  const named = (Object.keys(given) as (keyof typeof given)[]).filter((k) => given[k] !== undefined);
  if (!args['live-causal']) {
    if (named.length > 0) throw new UsageError('--causal-every, --causal-subset, --causal-random and --causal-eps need --live-causal');
    return undefined;
  }
  return { enabled: true, ...Object.fromEntries(named.map((k) => [k, given[k]])) };
}

function withCheckpointOptions(args: typeof DEFAULTS, config: RunConfig, out: string, resumeFrom?: DecodedCheckpoint): ExperimentPlan {
  const checkpointEvery = integerOption('checkpoint-every', args['checkpoint-every']);
  if (checkpointEvery !== undefined && !(checkpointEvery > 0 && checkpointEvery % config.evalEvery === 0)) {
    throw new UsageError(`--checkpoint-every must be a positive multiple of the evaluation cadence (${config.evalEvery}), got ${checkpointEvery}`);
  }
  return { config, out, checkpointEvery, checkpointDir: args['checkpoint-dir'] || `${out.replace(/\.json$/, '')}-checkpoints`, resumeFrom };
}

/**
 * --resume: the checkpoint's own configuration; only --steps (to train further), --early-stop (e.g. 0, to train past
 * the grok) and the output options apply.
 */
function resumePlan(args: typeof DEFAULTS): ExperimentPlan {
  const values = (['preset', 'wd', 'lr', 'eval-every', 'op', 'train-fraction', 'window', 'snapshot-every', 'subset', 'edge-k', 'solver', 'decay', 'lrd-rate', 'lrd-params', 'norm', 'causal-every', 'causal-subset', 'causal-random', 'causal-eps'] as const).filter((k) => args[k] !== '');
  const flags = (['no-spectral', 'centred', 'gap-flow', 'qk-norm', 'live-causal'] as const).filter((k) => args[k]);
  const ignored = [...values, ...flags];
  if (ignored.length > 0) throw new UsageError(`--resume continues the saved configuration; drop ${ignored.map((k) => `--${k}`).join(', ')}`);
  let decoded: DecodedCheckpoint;
  try {
    // A checkpoint written every N steps takes its history from the log beside it; a standalone one carries it.
    const bytes = readFileSync(args.resume);
    const history = readHistoryLog(dirname(args.resume));
    decoded = decodeCheckpoint(bytes, history ? { run: { config: decodeContainer(bytes).header.config, metrics: history } } : {});
    if (decoded.warning) process.stderr.write(`experiment: warning: ${args.resume}: ${decoded.warning}\n`);
  } catch (err) {
    throw new UsageError(`--resume ${args.resume}: ${(err as Error).message}`, false);
  }
  const steps = integerOption('steps', args.steps);
  let config = steps === undefined ? decoded.config : { ...decoded.config, steps, overrides: { ...decoded.config.overrides, steps } };
  const earlyStopK = earlyStopOption(args);
  if (earlyStopK !== undefined) {
    const earlyStop = earlyStopRule(earlyStopK);
    config = { ...config, earlyStop: earlyStop ?? null, overrides: { ...config.overrides, earlyStop } };
    if (earlyStop === undefined) delete config.overrides.earlyStop;
  }
  if (config.steps <= decoded.checkpoint.step) throw new UsageError(`the checkpoint is at step ${decoded.checkpoint.step}; pass --steps above it to train further`);
  return withCheckpointOptions(args, config, args.out || `runs/${config.preset}-seed${config.seed}.json`, decoded);
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseExperimentArgs>;
  try {
    parsed = parseExperimentArgs(process.argv.slice(2));
  } catch (err) {
    // A configuration the engine refuses (RunConfigError) is a bad command line too.
    throw err instanceof UsageError ? err : new UsageError((err as Error).message);
  }
  if (parsed === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { config, out, checkpointEvery, checkpointDir, resumeFrom } = parsed;
  // Before the GPU: a run that could not be saved is not started.
  checkWritable('--out', out, 'file');
  checkWritable('--checkpoint-dir', checkpointDir, 'folder');

  const rt = new GpuRuntime(await acquireNodeDevice());
  const progress = new ProgressPrinter(process.stdout);
  const { optim, shape } = config;
  progress.message(
    `${config.preset} seed ${config.seed}: ${config.steps} steps, lr ${optim.lr}, ${describeDecay(decayOf(config), optim.weightDecay)}, ` +
      `batch ${shape.batch} (${config.batchMode}), evaluating every ${config.evalEvery} on ${rt.adapter.description}`,
  );
  const trainer = await createTrainer(rt, config);
  if (resumeFrom) {
    trainer.restore(resumeFrom.checkpoint);
    progress.message(`resumed at step ${trainer.step}`);
  }
  // Checkpoints every N steps: the history since the last one goes into the folder's log, the checkpoint names its
  // place in it (a save costs what changed). The last good checkpoint of a diverged run carries its own history.
  let log: HistoryLogWriter | null = null;
  const writeCheckpoint = (checkpoint: Checkpoint, name: string, withHistory = false) => {
    mkdirSync(checkpointDir, { recursive: true });
    if (!withHistory) {
      log ??= new HistoryLogWriter(checkpointDir, resumeFrom?.checkpoint.mark);
      log.append(checkpoint.metrics, checkpoint.mark);
    }
    const file = join(checkpointDir, name);
    writeAtomically(file, encodeCheckpoint(checkpoint, config, { withHistory }));
    return file;
  };
  const stepFile = (step: number) => `step-${String(step).padStart(6, '0')}.ckpt`;

  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    progress.message('interrupted: stopping after this step to save a checkpoint (Ctrl-C again to abort)');
  });
  const reason = await trainer.run({
    onEvaluation: (p) => {
      progress.update(p);
      // The trainer's last good checkpoint is the state at the evaluation just taken.
      if (checkpointEvery && p.point.step % checkpointEvery === 0) writeCheckpoint(trainer.lastGoodCheckpoint, stepFile(p.point.step));
    },
    onEvent: (e) => progress.event(e),
    shouldStop: () => interrupted,
  });
  progress.endLine();
  if (reason === 'diverged') progress.message(`last good checkpoint written to ${writeCheckpoint(trainer.lastGoodCheckpoint, 'last-good.ckpt', true)}`);
  if (reason === 'interrupted') {
    // The trainer is at rest between steps: its whole state and history, from which --resume continues bit for bit.
    const file = writeCheckpoint(await trainer.checkpoint(), stepFile(trainer.step), true);
    progress.message(`checkpoint of step ${trainer.step} written to ${file}; continue with: npm run experiment -- --resume ${file} --out ${out}`);
  }

  const run = trainer.toRunFile();
  writeAtomically(out, JSON.stringify(run));
  const { grokStep, steps, wallMs } = run.summary;
  progress.message(
    `${reason} after ${steps} steps in ${formatDuration(wallMs)}; ` +
      `${grokStep === null ? 'did not grok' : `grok step ${grokStep}`}; run file written to ${out}`,
  );
  rt.destroy();
  return reason === 'diverged' ? 1 : reason === 'interrupted' ? 130 : 0;
}

runCli('experiment', main, USAGE);
