// What the bench page asks its worker (src/worker/bench-worker.ts) and what it gets back: the benchmark's JSON,
// the same document `npm run bench` prints (its producer is src/bench/benchmark.ts).
import { PRESET_NAMES, type PresetName } from './task';

export interface BenchAdapter {
  vendor: string;
  architecture: string;
  description: string;
  isSoftware: boolean;
}

export interface BenchRequest {
  presets: PresetName[];
  /** Steps per timed measurement (default: about 2 s worth, at least 2). */
  steps?: number;
  /** Also time each preset's default run to its grok. */
  grok: boolean;
  /** Also time each kernel alone and the spectral edge's and probes' overheads. */
  detail: boolean;
}

export interface GrokTiming {
  seed: number;
  /** The step of the grok (null: the run ended without one). */
  grokStep: number | null;
  /** Steps trained (the grok step, or the run's length). */
  steps: number;
  /** Wall seconds from the start of training to the grok (or the run's end), evaluations included. */
  seconds: number;
}

export interface PresetBench {
  preset: PresetName;
  params: number;
  batch: number;
  seqLen: number;
  dispatchesPerStep: number;
  /** Steps per submission over the preset's whole default run (its mean), and its largest submission. */
  stepsPerSubmission: number;
  largestSubmission: number;
  /** The steps per submission the timing used (the largest submission, or fewer when fewer steps are timed). */
  stepsPerSubmissionTimed: number;
  stepsTimed: number;
  /** ms per step with stepsPerSubmissionTimed steps per submission, and with one. */
  msPerStep: number;
  msPerStepK1: number;
  stepsPerSecond: number;
  /** GPU idle ms per step between submissions (null: no timestamp queries on this adapter). */
  gpuIdleMsPerStep: number | null;
  gpuIdleMsPerStepK1: number | null;
  readbacksPerStep: number;
  gflopPerStep: number;
  stepGflops: number;
  grok?: GrokTiming;
  /** With `detail`: kernel, spectral and live causal timings. */
  [detail: string]: unknown;
}

export const BENCH_KIND = 'spectral-edge-lab-bench';

/** The quick presets: the page's default (their time to grok is seconds on a GPU); the paper presets on demand. */
export const QUICK_PRESETS: readonly PresetName[] = PRESET_NAMES.filter((n) => n.startsWith('quick-'));

export interface BenchReport {
  kind: typeof BENCH_KIND;
  date: string;
  adapter: BenchAdapter;
  /** Where it ran: `node v22...`, or the browser's user agent. */
  runtime: string;
  results: PresetBench[];
}

/** The worker's API (Comlink). */
export interface BenchWorkerApi {
  adapter(): Promise<BenchAdapter>;
  run(request: BenchRequest, onProgress: (message: string) => void): Promise<BenchReport>;
  cancel(): void;
}
