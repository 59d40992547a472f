// One analysis of a run at one step (docs/science.md §3): the experiments asked for, run in a fixed order on the model the
// trainer holds, each with its wall time, or the reason it does not apply; and the universality-class verdict
// from their results. The result is an analysis file (src/formats/analysis-file.ts). The CLI (`npm run analyze`)
// and the lab's worker both call `runAnalysis`. An experiment whose computation or result holds a value that is not
// finite (NaN or infinite; a result says null where a value does not exist) ends the analysis with a one-line
// NonFiniteError that names the experiment and the value's path in its result.
import type { Trainer } from '../train/trainer';
import type { RunFile } from '../formats/run-file';
import { contextOfTrainer, ExperimentCancelledError, NotApplicableError, type AnalysisContext } from './context';
import { ANALYSIS_FILE_KIND, ANALYSIS_FILE_VERSION, type ReplayCheck, type AnalysisFile, type ExperimentResults, type ResultOf } from '../formats/analysis-file';
import { NonFiniteError } from '../util/non-finite';
import { perturbationSweep } from './perturbation';
import { edgeCurvature } from './curvature';
import { ablateEdge } from './ablation';
import { probeExperiment } from './probe-run';
import { decayIntervention } from './decay-intervention';
import { edgeFunctionalModes } from './edge-modes';
import { universalityVerdict } from './verdict';
import { plannedExperiments } from './experiments';
import type { ExperimentName } from '../formats/experiments';

export interface AnalysisRequest {
  experiments: readonly ExperimentName[];
  /** How the analysed step was asked for ("grok", "late" or the number) and the step it is. */
  requested: string;
  /** Seeds the random control directions and probe splits (default: the run's seed). */
  seed?: number;
  /** Weight-decay intervention: steps per branch (default 3,000, docs/science.md §3.5) and the decay values. */
  interventionSteps?: number;
  interventionDecays?: number[];
  /** How the model was rebuilt (src/analysis/at-step.ts), recorded in the file. */
  replay?: ReplayCheck;
  /** `done` of `total` units of `experiment`, now doing `what`. */
  onProgress?: (experiment: ExperimentName, done: number, total: number, what: string) => void;
  /**
   * Polled before each experiment and at each step of the weight-decay branches: true cancels the request with
   * ExperimentCancelledError (the model is left as it was: experiments restore it, branches train on copies).
   */
  shouldStop?: () => boolean;
}

type Runners = { [K in Exclude<ExperimentName, 'verdict'>]: (ctx: AnalysisContext) => Promise<ResultOf<K>> };

export async function runAnalysis(trainer: Trainer, run: RunFile, request: AnalysisRequest): Promise<AnalysisFile> {
  const started = performance.now();
  const records = trainer.spectralRecords;
  const window = records.at(-1);
  if (!window) {
    const { window: W, snapshotEvery } = trainer.config.spectral;
    throw new Error(`no spectral window at or before step ${trainer.step}: the first is at step ${W * snapshotEvery} (W ${W} x every ${snapshotEvery}); analyse a later step or record with a smaller --snapshot-every`);
  }
  const experiments: ExperimentResults = {};
  const runners: Runners = {
    perturb: (ctx) => perturbationSweep(ctx),
    curvature: (ctx) => edgeCurvature(ctx),
    ablate: (ctx) => ablateEdge(ctx),
    probe: (ctx) => probeExperiment(ctx, trainer.config.seed),
    fourier: (ctx) => edgeFunctionalModes(ctx),
    'wd-intervention': async (ctx) =>
      decayIntervention(trainer.engine.runtime, trainer.config, await trainer.checkpoint(), {
        ...(request.interventionSteps !== undefined && { steps: request.interventionSteps }),
        ...(request.interventionDecays && { weightDecays: request.interventionDecays }),
        ...(ctx.progress && { progress: ctx.progress }),
        ...(request.shouldStop && { shouldStop: request.shouldStop }),
      }),
  };
  for (const name of plannedExperiments(request.experiments)) {
    if (request.shouldStop?.()) throw new ExperimentCancelledError();
    const t0 = performance.now();
    if (name === 'verdict') {
      const perturb = experiments.perturb && 'result' in experiments.perturb ? experiments.perturb.result : null;
      const ablate = experiments.ablate && 'result' in experiments.ablate ? experiments.ablate.result : null;
      if (!perturb || !ablate) {
        experiments.verdict = { notApplicable: 'the verdict needs the perturbation sweep and the ablation, and one of them did not apply' };
        continue;
      }
      const result = universalityVerdict({
        records,
        ablation: { edge: Math.abs(ablate.edge.deltaAccuracy), randomMean: ablate.random.meanAbsDelta, resolution: ablate.ratio.resolution, baseAccuracy: ablate.base.accuracy },
        perturbation: { edgeMaxKl: Math.max(...perturb.summary.edgeMaxKl.slice(0, 2)), randomMaxKl: perturb.summary.randomMaxKl },
      });
      experiments.verdict = { result, wallMs: Math.round(performance.now() - t0) };
      continue;
    }
    const ctx = contextOfTrainer(trainer, {
      ...(request.seed !== undefined && { seed: request.seed }),
      ...(request.onProgress && { progress: (done: number, total: number, what: string) => request.onProgress!(name, done, total, what) }),
    });
    try {
      // What an experiment builds on the GPU (graphs, probes, branch trainers) is freed when it ends.
      const result = await trainer.engine.runtime.scoped<unknown>(() => runners[name](ctx));
      const bad = firstNonFinite(result, 'its result');
      if (bad) throw new NonFiniteError(bad.path, [bad.value]);
      (experiments as Record<string, unknown>)[name] = { result, wallMs: Math.round(performance.now() - t0) };
    } catch (error) {
      if (error instanceof NonFiniteError) throw new NonFiniteError(`the ${name} experiment at step ${trainer.step}: ${error.what}`, error.values);
      if (!(error instanceof NotApplicableError)) throw error;
      experiments[name] = { notApplicable: error.message };
    }
  }
  return {
    kind: ANALYSIS_FILE_KIND,
    version: ANALYSIS_FILE_VERSION,
    run: { preset: run.config.preset, seed: run.config.seed, steps: run.summary.steps, grokStep: run.summary.grokStep, adapter: trainer.engine.runtime.adapter.description },
    at: { requested: request.requested, step: trainer.step, windowStep: window.step, ...(request.replay && { replay: request.replay }) },
    seed: request.seed ?? trainer.config.seed,
    experiments,
    wallMs: Math.round(performance.now() - started),
  };
}

/** The first number in `value` (an experiment's result: plain objects, arrays, typed arrays) that is NaN or infinite, and its path. */
export function firstNonFinite(value: unknown, path: string): { path: string; value: number } | null {
  if (typeof value === 'number') return Number.isFinite(value) ? null : { path, value };
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const i = (value as unknown as number[]).findIndex((x) => !Number.isFinite(x));
    return i < 0 ? null : { path: `${path}[${i}]`, value: (value as unknown as number[])[i] };
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = firstNonFinite(value[i], `${path}[${i}]`);
      if (bad) return bad;
    }
    return null;
  }
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const bad = firstNonFinite(item, `${path}.${key}`);
      if (bad) return bad;
    }
  }
  return null;
}

