// Timing of training steps as the trainer submits them: `steps` steps in submissions of `k` steps each, at most two
// submissions in flight (src/gpu/in-flight.ts), on synthetic batches (a fresh batch every step for minibatch
// presets, one batch for full-batch presets, as in their runs). Where the device has timestamp queries, each
// submission is timed on the GPU too, and the gaps between one submission's end and the next one's start are the
// GPU's idle time (the CPU's encoding, submits and waits that the GPU sat through).
import type { GpuRuntime } from '../gpu/runtime';
import { SubmissionWindow } from '../gpu/in-flight';
import { median } from '../gpu/timing';
import type { TrainingEngine } from '../model/engine';
import type { Batch } from '../model/batch';

export interface StepTiming {
  /** Wall milliseconds per step, the median of the repeats. */
  msPerStep: number;
  /** GPU idle milliseconds per step between submissions (null without timestamp queries). */
  gpuIdleMsPerStep: number | null;
  /** Reads back from the GPU per step while stepping (the training loop makes none between evaluations). */
  readbacksPerStep: number;
}

/** Wall time (and GPU idle time) per step of `steps` steps in submissions of `k` steps (the last one may hold fewer). */
export async function timeSteps(rt: GpuRuntime, engine: TrainingEngine, batches: readonly Batch[], k: number, steps: number): Promise<StepTiming> {
  const window = new SubmissionWindow(rt, 2);
  const sizes = Array.from({ length: Math.ceil(steps / k) }, (_, g) => Math.min(k, steps - g * k));
  const querySet = rt.hasTimestampQuery ? rt.device.createQuerySet({ type: 'timestamp', count: 2 * sizes.length }) : null;
  let next = 0;
  const readsBefore = rt.readbackCount;
  const start = performance.now();
  for (const [g, size] of sizes.entries()) {
    const group = Array.from({ length: size }, () => batches[next++ % batches.length]);
    await window.ready();
    engine.steps(group, querySet ? { timestamps: { querySet, begin: 2 * g, end: 2 * g + 1 } } : {});
    window.submitted();
  }
  await window.drain();
  const ms = performance.now() - start;
  const readbacks = rt.readbackCount - readsBefore;
  const idle = querySet ? await idleMs(rt, querySet, sizes.length) : null;
  querySet?.destroy();
  return { msPerStep: ms / steps, gpuIdleMsPerStep: idle === null ? null : idle / steps, readbacksPerStep: readbacks / steps };
}

/** The GPU's idle time between consecutive submissions, from their begin/end timestamps (nanoseconds). */
async function idleMs(rt: GpuRuntime, querySet: GPUQuerySet, groups: number): Promise<number> {
  const resolved = rt.buffer('bench.timestamps', 16 * groups, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC);
  const encoder = rt.device.createCommandEncoder();
  encoder.resolveQuerySet(querySet, 0, 2 * groups, resolved, 0);
  const read = rt.scheduleRead(encoder, resolved, 0, 16 * groups);
  rt.device.queue.submit([encoder.finish()]);
  const t = new BigUint64Array(await read());
  resolved.destroy();
  let idleNs = 0;
  for (let g = 1; g < groups; g++) idleNs += Math.max(0, Number(t[2 * g] - t[2 * g - 1]));
  return idleNs / 1e6;
}

/**
 * Milliseconds per step with one step per submission and with `k` per submission, timed in alternation (`repeats`
 * times each, after one untimed round of each when repeats > 1) so that a machine's drift affects both alike.
 */
export async function compareStepsPerSubmission(
  rt: GpuRuntime,
  engine: TrainingEngine,
  batches: readonly Batch[],
  { k, steps, repeats = 3 }: { k: number; steps: number; repeats?: number },
): Promise<{ single: StepTiming; multi: StepTiming }> {
  const runs: { single: StepTiming[]; multi: StepTiming[] } = { single: [], multi: [] };
  const warmups = repeats > 1 ? 1 : 0;
  for (let r = 0; r < warmups + repeats; r++) {
    const single = await timeSteps(rt, engine, batches, 1, steps);
    const multi = await timeSteps(rt, engine, batches, k, steps);
    if (r < warmups) continue;
    runs.single.push(single);
    runs.multi.push(multi);
  }
  const summary = (t: StepTiming[]): StepTiming => ({
    msPerStep: median(t.map((x) => x.msPerStep)),
    gpuIdleMsPerStep: t[0].gpuIdleMsPerStep === null ? null : median(t.map((x) => x.gpuIdleMsPerStep!)),
    readbacksPerStep: Math.max(...t.map((x) => x.readbacksPerStep)),
  });
  return { single: summary(runs.single), multi: summary(runs.multi) };
}
