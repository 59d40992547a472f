// `npm run analyze -- run.json --at <step|grok|late> --experiments perturb,... --out analysis.json`: the causal
// experiments of docs/science.md §3 on a recorded run at one step. The model there is rebuilt from the run file (from the
// latest of its checkpoint files at or before the step, else from step 0: training is deterministic), then each
// experiment runs on this machine's WebGPU adapter with progress, and the analysis file
// (src/formats/analysis-file.ts) is written.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireNodeDevice } from '../gpu/node-gpu';
import { GpuRuntime } from '../gpu/runtime';
import { parseRunFile } from '../train/run';
import type { RunFile } from '../formats/run-file';
import { decodeCheckpoint } from '../train/checkpoint-file';
import { parseAnalysisStep, resolveAnalysisStep, trainerAt } from '../analysis/at-step';
import { isExperimentName, plannedExperiments } from '../analysis/experiments';
import { EXPERIMENTS, type ExperimentName } from '../formats/experiments';
import { runAnalysis } from '../analysis/run-analysis';
import { parseArgs, integerOption, UsageError, runCli } from './args';
import { checkWritable, writeAtomically } from './outputs';
import { formatDuration, ProgressPrinter } from './progress';
import { describeAnalysis } from './analysis-summary';

const USAGE = `usage: npm run analyze -- RUN.json [options]
  --at grok|late|STEP    the step to analyse (default late); the model is rebuilt there from the run file
  --experiments LIST     comma-separated, from ${EXPERIMENTS.join(', ')} (default: all);
                         verdict also runs perturb and ablate
  --out FILE             analysis file (default: RUN-analysis-AT.json beside the run file)
  --checkpoint-dir DIR   the run's checkpoint files (default: RUN-checkpoints, as npm run experiment writes them)
  --seed N               seed of the random control directions and probe splits (default: the run's)
  --wd-steps N           steps of each weight-decay branch (default 3000, docs/science.md §3)
  --wd-values LIST       decay values of the branches (default 0,0.5,1,2)
exit codes: 0 done, 1 failed, 2 bad arguments`;

const DEFAULTS = { at: 'late', experiments: EXPERIMENTS.join(','), out: '', 'checkpoint-dir': '', seed: '', 'wd-steps': '', 'wd-values': '', help: false };

interface AnalyzePlan {
  runPath: string;
  run: RunFile;
  requested: string;
  step: number;
  experiments: ExperimentName[];
  out: string;
  checkpointDir: string;
  seed?: number;
  interventionSteps?: number;
  interventionDecays?: number[];
}

function parseAnalyzeArgs(argv: string[]): AnalyzePlan | 'help' {
  const rest = argv.filter((a) => a !== '--');
  const runPath = rest[0] && !rest[0].startsWith('--') ? rest.shift()! : '';
  const args = parseArgs(rest, DEFAULTS);
  if (args.help) return 'help';
  if (runPath === '') throw new UsageError('the run file is required (the first argument)');
  let run: RunFile;
  try {
    run = parseRunFile(readFileSync(runPath, 'utf8'));
  } catch (err) {
    throw new UsageError(`${runPath}: ${(err as Error).message}`, false);
  }
  let step: number;
  try {
    step = resolveAnalysisStep(run, parseAnalysisStep(args.at));
  } catch (err) {
    throw new UsageError(`--at ${args.at}: ${(err as Error).message}`);
  }
  const names = args.experiments.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !isExperimentName(n));
  if (unknown.length || names.length === 0) throw new UsageError(`--experiments: unknown ${unknown.join(', ') || '(none given)'}; known: ${EXPERIMENTS.join(', ')}`);
  const decays = args['wd-values'] === '' ? undefined : args['wd-values'].split(',').map(Number);
  if (decays?.some((d) => !(Number.isFinite(d) && d >= 0))) throw new UsageError(`--wd-values must be finite numbers >= 0, got "${args['wd-values']}"`);
  const interventionSteps = integerOption('wd-steps', args['wd-steps']);
  if (interventionSteps !== undefined && interventionSteps < 1) throw new UsageError(`--wd-steps must be >= 1, got ${interventionSteps}`);
  const seed = integerOption('seed', args.seed);
  const base = runPath.replace(/\.json$/, '');
  return {
    runPath, run, requested: args.at, step, experiments: names as ExperimentName[],
    out: args.out || `${base}-analysis-${args.at}.json`,
    checkpointDir: args['checkpoint-dir'] || `${base}-checkpoints`,
    ...(seed !== undefined && { seed }),
    ...(interventionSteps !== undefined && { interventionSteps }),
    ...(decays && { interventionDecays: decays }),
  };
}

/** The latest `step-N.ckpt` at or before `step` in `dir` (as npm run experiment names them), decoded; or none. */
function checkpointBefore(dir: string, step: number, run: RunFile) {
  if (!existsSync(dir)) return [];
  const steps = readdirSync(dir).flatMap((f) => {
    const m = /^step-(\d+)\.ckpt$/.exec(f);
    return m && Number(m[1]) <= step ? [Number(m[1])] : [];
  });
  if (steps.length === 0) return [];
  const best = Math.max(...steps);
  const file = join(dir, `step-${String(best).padStart(6, '0')}.ckpt`);
  return [decodeCheckpoint(readFileSync(file), { run: { config: run.config, metrics: run } })];
}

async function main(): Promise<number> {
  const plan = parseAnalyzeArgs(process.argv.slice(2));
  if (plan === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  checkWritable('--out', plan.out, 'file');
  const { run, step } = plan;
  const rt = new GpuRuntime(await acquireNodeDevice());
  const progress = new ProgressPrinter(process.stdout);
  const checkpoints = checkpointBefore(plan.checkpointDir, step, plan.run);
  progress.message(
    `${run.config.preset} seed ${run.config.seed} at step ${step} (${plan.requested}): rebuilding the model from ` +
      `${checkpoints.length ? `the checkpoint at step ${checkpoints[0].checkpoint.step}` : 'step 0'} on ${rt.adapter.description}`,
  );
  const { trainer, replay } = await trainerAt(rt, run, step, { checkpoints, onProgress: (p) => progress.update(p) });
  progress.endLine();
  if (replay.recordedTestLoss !== null && replay.replayedTestLoss !== replay.recordedTestLoss) {
    progress.message(`note: the rebuilt model's test loss ${replay.replayedTestLoss} differs from the run's ${replay.recordedTestLoss} (another adapter rounds differently)`);
  }
  const experiments = plannedExperiments(plan.experiments);
  progress.message(`experiments: ${experiments.join(', ')}`);
  let current = '';
  const analysis = await runAnalysis(trainer, run, {
    experiments,
    requested: plan.requested,
    replay,
    ...(plan.seed !== undefined && { seed: plan.seed }),
    ...(plan.interventionSteps !== undefined && { interventionSteps: plan.interventionSteps }),
    ...(plan.interventionDecays && { interventionDecays: plan.interventionDecays }),
    onProgress: (name, done, total, what) => {
      if (name !== current) progress.message(`[${name}]`);
      current = name;
      progress.status(`  ${done}/${total} ${what}`);
    },
  });
  progress.endLine();
  writeAtomically(plan.out, JSON.stringify(analysis, null, 1));
  for (const line of describeAnalysis(analysis)) progress.message(line);
  progress.message(`analysis written to ${plan.out} in ${formatDuration(analysis.wallMs)}`);
  rt.destroy();
  return 0;
}

runCli('analyze', main, USAGE);
