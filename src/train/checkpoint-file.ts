// A checkpoint as bytes, for files (CLI) and IndexedDB (page): the same format everywhere, in the checksummed
// container of src/formats/checkpoint-file.ts. The sections "params", "m" and "v" are the engine's float32
// parameters and Adam moments in the parameter table's flat layout, little-endian. A run that tracks the spectral
// edge adds its monitor's scalars to the header and its GPU buffers (ring, previous snapshot, edge vectors) as the
// float32 sections "spectral.0", "spectral.1", ... Further named sections can be added without changing the
// version: a reader takes the sections it knows.
//
// History: the header names the prefix of the run's history the checkpoint belongs to (HistoryMark) and its last
// evaluation, so saving a checkpoint costs the same at step 100 as at step 10^6. Such a checkpoint is opened with
// its run's history (the run file's, or a history log's) and refused when that history is another run's. A
// checkpoint that must stand alone (the last good one of a diverged run, an interrupted one) carries its history
// in the section "history" (`withHistory`).
import { buildParamTable } from '../model/params';
import type { Checkpoint } from './checkpoint';
import type { EngineState } from '../model/engine';
import type { SpectralState } from '../spectral/monitor';
import type { RunConfig } from '../formats/run-file';
import type { MetricPoint, RunMetrics } from '../formats/metrics';
import { CheckpointFileError, decodeContainer, encodeContainer, type HistoryMark } from '../formats/checkpoint-file';
import { firstDifference } from '../formats/versioned';
import { covers, historyUpTo, pointAt } from './metrics';


const ENGINE_SECTIONS = ['params', 'm', 'v'] as const;
const HISTORY_SECTION = 'history';
const spectralSection = (i: number) => `spectral.${i}`;
const isReserved = (name: string) => (ENGINE_SECTIONS as readonly string[]).includes(name) || name === HISTORY_SECTION || name.startsWith('spectral.');

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export interface EncodeOptions {
  /** Carry the checkpoint's history in the file, so it opens without its run's (default false). */
  withHistory?: boolean;
  /** Further named sections. */
  extra?: Record<string, Uint8Array>;
}

/** The last evaluation of a history prefix (null before the first). */
const lastPoint = (metrics: RunMetrics, mark: HistoryMark): MetricPoint | null => (mark.evaluations > 0 ? pointAt(metrics.series, mark.evaluations - 1) : null);

/** The bytes of a checkpoint of a run with `config`. */
export function encodeCheckpoint(checkpoint: Checkpoint, config: RunConfig, options: EncodeOptions = {}): Uint8Array {
  const { engine, spectral, metrics, mark } = checkpoint;
  const extra = options.extra ?? {};
  const clash = Object.keys(extra).find(isReserved);
  if (clash !== undefined) throw new CheckpointFileError(`the extra section name "${clash}" is reserved for the engine's, the spectral edge's or the history's state`);
  if (spectral?.prevGram?.some((row) => row.some((x) => !Number.isFinite(x)))) throw new CheckpointFileError("the spectral edge's previous Gram matrix is not finite");
  const sections: [string, Uint8Array][] = [
    ...ENGINE_SECTIONS.map((name): [string, Uint8Array] => [name, bytesOf(engine[name])]),
    ...(spectral?.buffers ?? []).map((buffer, i): [string, Uint8Array] => [spectralSection(i), bytesOf(buffer)]),
    ...(options.withHistory ? [[HISTORY_SECTION, new TextEncoder().encode(JSON.stringify(historyUpTo(metrics, mark)))] as [string, Uint8Array]] : []),
    ...Object.entries(extra),
  ];
  return encodeContainer(
    {
      config,
      step: checkpoint.step,
      optim: engine.optim,
      sampler: checkpoint.sampler,
      history: mark,
      last: lastPoint(metrics, mark),
      ...(spectral && { spectral: { snapshots: spectral.snapshots, prevGram: spectral.prevGram, buffers: spectral.buffers.length } }),
    },
    sections,
  );
}

export interface DecodedCheckpoint {
  config: RunConfig;
  checkpoint: Checkpoint;
  /** Sections beyond the engine's, by name. */
  extra: Record<string, Uint8Array>;
  /** Set when the file cannot be checked for damage (version 1). */
  warning?: string;
}

export interface DecodeOptions {
  /**
   * The run the checkpoint is opened with: its configuration must agree (the length and early-stop rule aside), and
   * its history (a run file's or a log's) supplies the checkpoint's when the file does not carry it.
   */
  run?: { config: RunConfig; metrics?: RunMetrics };
}

/** Whether two configurations are one run (the step count and early-stop rule aside): null, or the first difference. */
export function configDifference(found: RunConfig, expected: RunConfig): string | null {
  const strip = (c: RunConfig) => JSON.parse(JSON.stringify({ ...c, steps: 0, earlyStop: null, overrides: { ...c.overrides, steps: undefined, earlyStop: undefined } }));
  const d = firstDifference(strip(found), strip(expected), 'config');
  return d && `${d.path} is ${JSON.stringify(d.found)} in the checkpoint, ${JSON.stringify(d.expected)} in the run`;
}

/** Reads bytes written by `encodeCheckpoint` (or version 1), checking checksums, sizes and the run it belongs to. */
export function decodeCheckpoint(bytes: Uint8Array, options: DecodeOptions = {}): DecodedCheckpoint {
  const { header, sections, warning } = decodeContainer(bytes);
  const fail = (why: string): never => {
    throw new CheckpointFileError(`not a readable checkpoint: ${why}`);
  };
  const config = header.config;
  let paramCount = 0;
  try {
    paramCount = buildParamTable(config.model).total;
  } catch (err) {
    fail(`its configuration has no model (${(err as Error).message})`);
  }
  const floats = (name: string, expectedCount?: number): Float32Array => {
    const section = sections.get(name) ?? fail(`section "${name}" is missing`);
    if (section.byteLength % 4 !== 0) fail(`section "${name}" is ${section.byteLength} bytes, not whole float32s`);
    if (expectedCount !== undefined && section.byteLength !== expectedCount * 4) fail(`section "${name}" holds ${section.byteLength / 4} floats, the model has ${expectedCount} parameters`);
    return new Float32Array(section.buffer, section.byteOffset, section.byteLength / 4);
  };
  const engine: EngineState = { step: header.step, optim: header.optim, params: floats('params', paramCount), m: floats('m', paramCount), v: floats('v', paramCount) };
  // The spectral buffers' sizes are checked against the run's monitor when the checkpoint is restored.
  const spectral: SpectralState | undefined = header.spectral && {
    snapshots: header.spectral.snapshots,
    prevGram: header.spectral.prevGram,
    buffers: Array.from({ length: header.spectral.buffers }, (_, i) => floats(spectralSection(i))),
  };
  const run = options.run;
  if (run) {
    const difference = configDifference(config, run.config);
    if (difference) fail(`it belongs to another run (${difference})`);
  }
  const carried = sections.get(HISTORY_SECTION);
  let metrics: RunMetrics;
  let mark: HistoryMark;
  if (header.metrics) {
    metrics = header.metrics; // version 1
    mark = { evaluations: metrics.series.step.length, events: metrics.events.length, spectral: metrics.spectral?.length ?? 0, causal: metrics.causal?.length ?? 0 };
  } else {
    mark = header.history ?? fail('its header names no history');
    if (carried) {
      try {
        metrics = JSON.parse(new TextDecoder().decode(carried)) as RunMetrics;
      } catch (err) {
        return fail(`its history section is not JSON (${(err as Error).message})`);
      }
    } else {
      metrics = run?.metrics ?? fail(`it does not carry its history: open it with its run's (the run file or the checkpoint folder's history log)`);
    }
    if (!covers(metrics, mark)) fail(`its run's history is shorter than the checkpoint's (${mark.evaluations} evaluations): another run's, or cut short`);
    const last = lastPoint(metrics, mark);
    if (JSON.stringify(last) !== JSON.stringify(header.last ?? null)) {
      fail(`its last evaluation (step ${header.last?.step ?? 'none'}) is not the run's at that point (step ${last?.step ?? 'none'}): a checkpoint of another run`);
    }
  }
  const extra = Object.fromEntries([...sections].filter(([name]) => !isReserved(name)));
  return { config, checkpoint: { step: header.step, engine, sampler: header.sampler, ...(spectral && { spectral }), metrics, mark }, extra, ...(warning && { warning }) };
}
