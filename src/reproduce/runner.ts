// Runs a study's units one after another on a GPU runtime: the shard's units (every N-th, from i), skipping those
// already finished in the store, writing each unit's file as soon as it ends (that is what makes a killed study
// resumable), reporting progress with an ETA, and stopping before a unit the time budget cannot fit. Storage is an
// interface (the CLI's is a directory, a browser's could be IndexedDB), so this file runs anywhere.
import type { GpuRuntime } from '../gpu/runtime';
import type { TrainerProgress } from '../train/trainer';
import type { StudyPlan, UnitOutcome, UnitSpec } from './study';
import { unitFileOf, type UnitFile } from './unit-file';
import { runUnit, UnitInterrupted, type AnalysisProgress } from './unit-run';

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

export class StudyInputError extends Error {
  override name = 'StudyInputError';
}

/** "2/4" -> { index 2, count 4 }; anything else, or an index outside 1..N, is a StudyInputError. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new StudyInputError(`--shard must be i/N (e.g. 2/4), got "${text}"`);
  const [index, count] = [Number(m[1]), Number(m[2])];
  if (count < 1) throw new StudyInputError(`--shard ${text}: N must be at least 1`);
  if (index < 1 || index > count) throw new StudyInputError(`--shard ${text}: i must be in 1..${count}`);
  return { index, count };
}

/** The units of a shard: every count-th unit of the plan, starting with the index-th. */
export function shardUnits(plan: StudyPlan, shard: Shard = { index: 1, count: 1 }): UnitSpec[] {
  return plan.units.filter((_, i) => i % shard.count === shard.index - 1);
}

/** Where finished units are kept. */
export interface UnitStore {
  /** The finished units of this plan (a foreign file is an error, never skipped). */
  finished(): UnitFile[];
  /** Resolves once the file is kept (a browser's store is asynchronous). */
  write(file: UnitFile): void | Promise<void>;
}

export interface StudyProgress {
  /** Units of this shard finished, in all (earlier calls included), and its total. */
  done: number;
  total: number;
  unit: UnitSpec;
  /** Wall time left: the units to go at the mean time of those run in this call (null before the first ends). */
  etaMs: number | null;
}

export interface StudyCallbacks {
  onUnitStart?(p: StudyProgress): void;
  onEvaluation?(p: StudyProgress, trainer: TrainerProgress): void;
  onAnalysis?(p: StudyProgress, a: AnalysisProgress): void;
  onUnitDone?(p: StudyProgress, file: UnitFile): void;
  shouldStop?(): boolean;
}

export interface StudyRunOptions {
  shard?: Shard;
  /** Stop before a unit when the time left is below the mean unit time so far (or this estimate before any). */
  budgetMs?: number;
  estimateUnitMs?(unit: UnitSpec): number;
}

export type StudyStop = 'done' | 'interrupted' | 'budget';

export async function runStudy(rt: GpuRuntime, plan: StudyPlan, store: UnitStore, callbacks: StudyCallbacks = {}, options: StudyRunOptions = {}): Promise<{ stop: StudyStop; ran: number }> {
  const units = shardUnits(plan, options.shard);
  const finished = new Set(store.finished().map((f) => f.unit.id));
  const todo = units.filter((u) => !finished.has(u.id));
  let done = units.length - todo.length;
  const started = performance.now();
  let ran = 0;
  for (const unit of todo) {
    const spent = performance.now() - started;
    const meanMs = ran > 0 ? spent / ran : null;
    const progress: StudyProgress = { done, total: units.length, unit, etaMs: meanMs === null ? null : meanMs * (units.length - done) };
    if (options.budgetMs !== undefined) {
      const need = meanMs ?? options.estimateUnitMs?.(unit) ?? 0;
      if (options.budgetMs - spent < need) return { stop: 'budget', ran };
    }
    if (callbacks.shouldStop?.()) return { stop: 'interrupted', ran };
    callbacks.onUnitStart?.(progress);
    let result;
    try {
      result = await runUnit(rt, unit, {
        onEvaluation: (t) => callbacks.onEvaluation?.(progress, t),
        onAnalysis: (a) => callbacks.onAnalysis?.(progress, a),
        ...(callbacks.shouldStop && { shouldStop: callbacks.shouldStop }),
      });
    } catch (err) {
      if (err instanceof UnitInterrupted) return { stop: 'interrupted', ran };
      throw err;
    }
    const file = unitFileOf(plan, unit, result);
    await store.write(file);
    done++;
    ran++;
    callbacks.onUnitDone?.({ ...progress, done }, file);
  }
  return { stop: 'done', ran };
}

/** The finished units of the plan, in plan order (merging shards: whatever subset the store holds). */
export function outcomesOf(plan: StudyPlan, files: readonly UnitFile[]): UnitOutcome[] {
  const byId = new Map(files.map((f) => [f.unit.id, f]));
  return plan.units.flatMap((unit) => {
    const f = byId.get(unit.id);
    return f ? [{ unit, result: f.result }] : [];
  });
}
