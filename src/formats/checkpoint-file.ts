// The checkpoint container: bytes in, bytes out (no Node dependency), the same in files (CLI) and IndexedDB (page).
//
// Version 2: the 8-byte magic "SELCKPT\x02", a little-endian u32 header length, the CRC-32 of the header bytes (u32),
// the header as UTF-8 JSON, zero padding to a multiple of 4 bytes, then the named sections' raw bytes. The header's
// section table gives each section's offset (from the start of the sections area), length and CRC-32, so a flipped
// byte anywhere (header or section) is found when the file is read. Version 1 ("SELCKPT\0", no CRC field, no section
// checksums) still opens, with a warning.
//
// What the header holds (src/train/checkpoint-file.ts fills it): the run configuration, the step, the optimiser's
// hyperparameters, the sampler's generator state, the spectral monitor's scalars, and which prefix of the run's
// history (metric series, events, records) the checkpoint belongs to: the counts and the last evaluation, so a
// checkpoint is paired with its run's history without copying it (a section "history" may carry that history
// itself, for a checkpoint that has to stand alone). Version 1 headers held the whole history ("metrics").
import CRC32 from 'crc-32';
import type { RunConfig } from './run-file';
import type { MetricPoint, RunMetrics } from './metrics';
import type { OptimConfig } from './optim';

export const CHECKPOINT_MAGIC = 'SELCKPT';
export const CHECKPOINT_VERSION = 2;
/** The versions this lab opens. */
export const CHECKPOINT_VERSIONS = [1, CHECKPOINT_VERSION] as const;

export class CheckpointFileError extends Error {
  override name = 'CheckpointFileError';
}

export interface SectionEntry {
  name: string;
  byteOffset: number;
  byteLength: number;
  /** CRC-32 of the section's bytes (version 2). */
  crc32?: number;
}

/** How much of the run's history a checkpoint belongs to: the lengths of its lists at the checkpoint's step. */
export interface HistoryMark {
  evaluations: number;
  events: number;
  spectral: number;
  causal: number;
}

export interface CheckpointHeader {
  version: number;
  config: RunConfig;
  step: number;
  optim: OptimConfig;
  sampler: [number, number, number, number] | null;
  /** Version 2: the history prefix the checkpoint belongs to, and its last evaluation (null before the first). */
  history?: HistoryMark;
  last?: MetricPoint | null;
  /** Version 1: the whole history so far. */
  metrics?: RunMetrics;
  /** Runs that track the spectral edge: the monitor's state but its buffers, which are sections "spectral.<i>". */
  spectral?: { snapshots: number; prevGram: number[][] | null; buffers: number };
  sections: SectionEntry[];
}

export interface CheckpointContainer {
  header: CheckpointHeader;
  /** The sections by name (copies of the file's bytes). */
  sections: Map<string, Uint8Array>;
  /** Set for files that carry no checksums (version 1). */
  warning?: string;
}

/** CRC-32 (IEEE) of some bytes, as an unsigned integer; `previous` continues a running checksum. */
export const crc32 = (bytes: Uint8Array, previous?: number): number => CRC32.buf(bytes, previous) >>> 0;

function assertLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new CheckpointFileError('checkpoint files need a little-endian platform');
}

/** The bytes of a version 2 checkpoint with `header` (its section table is filled in here) and `sections`. */
export function encodeContainer(header: Omit<CheckpointHeader, 'sections' | 'version'>, sections: [string, Uint8Array][]): Uint8Array {
  assertLittleEndian();
  const table: SectionEntry[] = [];
  let offset = 0;
  for (const [name, bytes] of sections) {
    table.push({ name, byteOffset: offset, byteLength: bytes.byteLength, crc32: crc32(bytes) });
    offset += Math.ceil(bytes.byteLength / 4) * 4;
  }
  const headerBytes = new TextEncoder().encode(JSON.stringify({ version: CHECKPOINT_VERSION, ...header, sections: table }));
  const sectionsStart = Math.ceil((16 + headerBytes.byteLength) / 4) * 4;
  const out = new Uint8Array(sectionsStart + offset);
  out.set(new TextEncoder().encode(CHECKPOINT_MAGIC), 0);
  out[7] = CHECKPOINT_VERSION;
  const view = new DataView(out.buffer);
  view.setUint32(8, headerBytes.byteLength, true);
  view.setUint32(12, crc32(headerBytes), true);
  out.set(headerBytes, 16);
  sections.forEach(([, bytes], i) => out.set(bytes, sectionsStart + table[i].byteOffset));
  return out;
}

/** Reads a container, checking the magic, version, checksums and section bounds; every failure one line. */
export function decodeContainer(bytes: Uint8Array): CheckpointContainer {
  assertLittleEndian();
  const fail = (why: string): never => {
    throw new CheckpointFileError(`not a readable checkpoint: ${why}`);
  };
  if (!(bytes instanceof Uint8Array)) fail('it is not bytes');
  if (bytes.byteLength < 16 || new TextDecoder().decode(bytes.subarray(0, 7)) !== CHECKPOINT_MAGIC) fail('it does not start with the checkpoint magic');
  const layout = bytes[7];
  if (layout !== 0 && layout !== CHECKPOINT_VERSION) fail(`version ${layout}; this lab reads versions ${CHECKPOINT_VERSIONS.join(', ')}`);
  const v1 = layout === 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(8, true);
  const headerStart = v1 ? 12 : 16;
  if (headerStart + headerLength > bytes.byteLength) fail(`the header needs ${headerLength} bytes, the file is truncated at ${bytes.byteLength}`);
  const headerBytes = bytes.subarray(headerStart, headerStart + headerLength);
  if (!v1 && crc32(headerBytes) !== view.getUint32(12, true)) fail('its header is damaged (checksum mismatch)');
  let header: CheckpointHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(headerBytes)) as CheckpointHeader;
  } catch (err) {
    return fail(`its header is not JSON (${(err as Error).message.split('\n')[0]})`);
  }
  if (typeof header !== 'object' || header === null || !Array.isArray(header.sections)) fail('its header has no section table');
  if (header.version !== (v1 ? 1 : CHECKPOINT_VERSION)) fail(`version ${JSON.stringify(header.version)}; this lab reads versions ${CHECKPOINT_VERSIONS.join(', ')}`);
  const sectionsStart = Math.ceil((headerStart + headerLength) / 4) * 4;
  const sections = new Map<string, Uint8Array>();
  for (const entry of header.sections) {
    const { name, byteOffset, byteLength } = entry ?? {};
    if (typeof name !== 'string' || !Number.isInteger(byteOffset) || !Number.isInteger(byteLength) || byteOffset < 0 || byteLength < 0) fail('its section table is malformed');
    const start = sectionsStart + byteOffset;
    if (start + byteLength > bytes.byteLength) fail(`section "${name}" ends at byte ${start + byteLength}, past the end of the file (${bytes.byteLength}): truncated`);
    const section = new Uint8Array(bytes.subarray(start, start + byteLength)); // a copy (Node Buffers share their slices)
    if (!v1 && crc32(section) !== entry.crc32) fail(`section "${name}" is damaged (checksum mismatch)`);
    sections.set(name, section);
  }
  return { header, sections, ...(v1 && { warning: 'this checkpoint is of version 1, which carries no checksums: damage to it cannot be detected' }) };
}
