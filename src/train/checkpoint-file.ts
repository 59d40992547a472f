// A checkpoint as bytes, for files (CLI) and IndexedDB (page): the same format everywhere.
//
// Layout: the 8-byte magic "SELCKPT\0", a little-endian u32 header length, the header as UTF-8 JSON, zero padding
// to a multiple of 4 bytes, then the named sections' raw bytes. The header holds the run configuration, the step,
// the sampler's generator state, the metrics so far and the section table { name, byteOffset, byteLength }
// (offsets from the start of the sections area). The sections "params", "m" and "v" are the engine's float32
// parameters and Adam moments in the parameter table's flat layout, little-endian. A run that tracks the spectral
// edge adds its monitor's scalars to the header ("spectral") and its GPU buffers (ring, previous snapshot, edge
// vectors) as the float32 sections "spectral.0", "spectral.1", ... Further named sections can be added without
// changing the version: a reader takes the sections it knows.
import { buildParamTable } from '../model/params';
import type { Checkpoint } from './checkpoint';
import type { RunConfig } from '../formats/run-file';
import type { EngineState } from '../model/engine';
import type { RngState } from '../util/random';
import type { RunMetrics } from '../formats/metrics';
import type { SpectralState } from '../spectral/monitor';

export const CHECKPOINT_MAGIC = 'SELCKPT\0';
export const CHECKPOINT_VERSION = 1;

interface SectionEntry {
  name: string;
  byteOffset: number;
  byteLength: number;
}

interface CheckpointHeader {
  version: number;
  config: RunConfig;
  step: number;
  optim: EngineState['optim'];
  sampler: RngState | null;
  metrics: RunMetrics;
  /** Runs that track the spectral edge: the monitor's state but its buffers, which are sections "spectral.<i>". */
  spectral?: Omit<SpectralState, 'buffers'> & { buffers: number };
  sections: SectionEntry[];
}

export class CheckpointFileError extends Error {
  override name = 'CheckpointFileError';
}

const ENGINE_SECTIONS = ['params', 'm', 'v'] as const;
const spectralSection = (i: number) => `spectral.${i}`;
const isReserved = (name: string) => (ENGINE_SECTIONS as readonly string[]).includes(name) || name.startsWith('spectral.');

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function assertLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new CheckpointFileError('checkpoint files need a little-endian platform');
}

/** The bytes of a checkpoint of a run with `config` (plus any extra named sections). */
export function encodeCheckpoint(checkpoint: Checkpoint, config: RunConfig, extra: Record<string, Uint8Array> = {}): Uint8Array {
  assertLittleEndian();
  const { engine, spectral } = checkpoint;
  const clash = Object.keys(extra).find(isReserved);
  if (clash !== undefined) throw new CheckpointFileError(`the extra section name "${clash}" is reserved for the engine's or the spectral edge's state`);
  if (spectral?.prevGram?.some((row) => row.some((x) => !Number.isFinite(x)))) throw new CheckpointFileError('the spectral edge\'s previous Gram matrix is not finite');
  const payloads: [string, Uint8Array][] = [
    ...ENGINE_SECTIONS.map((name): [string, Uint8Array] => [name, bytesOf(engine[name])]),
    ...(spectral?.buffers ?? []).map((buffer, i): [string, Uint8Array] => [spectralSection(i), bytesOf(buffer)]),
    ...Object.entries(extra),
  ];
  const sections: SectionEntry[] = [];
  let offset = 0;
  for (const [name, bytes] of payloads) {
    sections.push({ name, byteOffset: offset, byteLength: bytes.byteLength });
    offset += Math.ceil(bytes.byteLength / 4) * 4;
  }
  const header: CheckpointHeader = {
    version: CHECKPOINT_VERSION,
    config,
    step: checkpoint.step,
    optim: engine.optim,
    sampler: checkpoint.sampler,
    metrics: checkpoint.metrics,
    ...(spectral && { spectral: { snapshots: spectral.snapshots, prevGram: spectral.prevGram, buffers: spectral.buffers.length } }),
    sections,
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const sectionsStart = Math.ceil((12 + headerBytes.byteLength) / 4) * 4;
  const out = new Uint8Array(sectionsStart + offset);
  out.set(new TextEncoder().encode(CHECKPOINT_MAGIC), 0);
  new DataView(out.buffer).setUint32(8, headerBytes.byteLength, true);
  out.set(headerBytes, 12);
  payloads.forEach(([, bytes], i) => out.set(bytes, sectionsStart + sections[i].byteOffset));
  return out;
}

export interface DecodedCheckpoint {
  config: RunConfig;
  checkpoint: Checkpoint;
  /** Sections beyond the engine's, by name. */
  extra: Record<string, Uint8Array>;
}

/** Reads bytes written by `encodeCheckpoint`, checking the magic, version, section bounds and sizes. */
export function decodeCheckpoint(bytes: Uint8Array): DecodedCheckpoint {
  assertLittleEndian();
  const fail = (why: string): never => {
    throw new CheckpointFileError(`not a readable checkpoint: ${why}`);
  };
  if (bytes.byteLength < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== CHECKPOINT_MAGIC) fail('it does not start with the checkpoint magic');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (12 + headerLength > bytes.byteLength) fail(`the header needs ${headerLength} bytes, the file is truncated at ${bytes.byteLength}`);
  let header: CheckpointHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength))) as CheckpointHeader;
  } catch (err) {
    return fail(`its header is not JSON (${(err as Error).message})`);
  }
  if (header.version !== CHECKPOINT_VERSION) fail(`version ${header.version}; this lab reads version ${CHECKPOINT_VERSION}`);
  const sectionsStart = Math.ceil((12 + headerLength) / 4) * 4;
  const section = (entry: SectionEntry): Uint8Array => {
    const start = sectionsStart + entry.byteOffset;
    if (!(entry.byteOffset >= 0 && entry.byteLength >= 0 && start + entry.byteLength <= bytes.byteLength)) {
      fail(`section "${entry.name}" ends at byte ${start + entry.byteLength}, past the end of the file (${bytes.byteLength}): truncated`);
    }
    return new Uint8Array(bytes.subarray(start, start + entry.byteLength)); // a copy (Node Buffers share their slices)
  };
  const paramCount = buildParamTable(header.config.model).total;
  const floats = (name: string, expectedCount?: number): Float32Array => {
    const entry = header.sections.find((s) => s.name === name) ?? fail(`section "${name}" is missing`);
    if (entry.byteLength % 4 !== 0) fail(`section "${name}" is ${entry.byteLength} bytes, not whole float32s`);
    if (expectedCount !== undefined && entry.byteLength !== expectedCount * 4) fail(`section "${name}" holds ${entry.byteLength / 4} floats, the model has ${expectedCount} parameters`);
    return new Float32Array(section(entry).buffer);
  };
  const engine: EngineState = { step: header.step, optim: header.optim, params: floats('params', paramCount), m: floats('m', paramCount), v: floats('v', paramCount) };
  // The spectral buffers' sizes are checked against the run's monitor when the checkpoint is restored.
  const spectral: SpectralState | undefined = header.spectral && {
    snapshots: header.spectral.snapshots,
    prevGram: header.spectral.prevGram,
    buffers: Array.from({ length: header.spectral.buffers }, (_, i) => floats(spectralSection(i))),
  };
  const extra = Object.fromEntries(header.sections.filter((s) => !isReserved(s.name)).map((s) => [s.name, section(s)]));
  return {
    config: header.config,
    checkpoint: { step: header.step, engine, sampler: header.sampler, ...(spectral && { spectral }), metrics: header.metrics },
    extra,
  };
}
