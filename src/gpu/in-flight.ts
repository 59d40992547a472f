// Keeps the GPU fed without flooding its queue: at most `depth` submissions in flight. Before a submission the
// caller awaits `ready()`, which waits for the one `depth` submissions back, so while the GPU runs one submission
// the CPU has already encoded and submitted the next (no idle gap between them), and commands (pause, a
// hyperparameter change) wait at most about `depth` submissions' worth of GPU work.
import type { GpuRuntime } from './runtime';

export class SubmissionWindow {
  private readonly pending: Promise<unknown>[] = [];

  constructor(
    private readonly rt: GpuRuntime,
    readonly depth = 2,
  ) {
    if (!Number.isInteger(depth) || depth < 1) throw new Error(`in-flight depth must be an integer >= 1, got ${depth}`);
  }

  /** Resolves once fewer than `depth` of the submissions recorded with `submitted` are still running. */
  async ready(): Promise<void> {
    while (this.pending.length >= this.depth) await this.pending.shift();
  }

  /** Records a submission just made. */
  submitted(): void {
    this.pending.push(this.rt.device.queue.onSubmittedWorkDone());
  }

  /** Waits for every recorded submission. */
  async drain(): Promise<void> {
    while (this.pending.length > 0) await this.pending.shift();
  }
}
