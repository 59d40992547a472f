// Damaged and hostile files (property tests, fast-check): real run, analysis and checkpoint files, truncated, with
// bytes flipped, values of the wrong type, numbers out of range and huge arrays, must give a clean one-line error or
// an unchanged result: never a crash, a hang, or damaged weights accepted. The files are built from small fixtures
// (a quick-add configuration, seeded metrics, a checkpoint of the right size), so no GPU is needed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRunFile, resolveRunConfig } from '../src/train/run';
import { RUN_FILE_KIND, RUN_FILE_VERSION, type RunFile } from '../src/formats/run-file';
import { ANALYSIS_FILE_KIND, ANALYSIS_FILE_VERSION, parseAnalysisFile, type AnalysisFile } from '../src/formats/analysis-file';
import { FormatError } from '../src/formats/versioned';
import { CheckpointFileError } from '../src/formats/checkpoint-file';
import { METRIC_KEYS, type MetricPoint } from '../src/formats/metrics';
import { appendPoint, emptyMetrics, markOf } from '../src/train/metrics';
import { decodeCheckpoint, encodeCheckpoint } from '../src/train/checkpoint-file';
import { buildParamTable } from '../src/model/params';
import { Rng } from '../src/util/random';

const config = resolveRunConfig('quick-add', 5, { steps: 100, evalEvery: 10, spectral: { enabled: false } });

function runFixture(): RunFile {
  const metrics = emptyMetrics();
  const rng = new Rng(11);
  let last: MetricPoint | null = null;
  for (let i = 1; i <= 6; i++) {
    last = Object.fromEntries(METRIC_KEYS.map((k) => [k, k === 'step' ? i * 10 : rng.uniform()])) as unknown as MetricPoint;
    appendPoint(metrics.series, last);
  }
  metrics.events.push({ type: 'grok', step: 40, metric: 'testAcc', value: 0.97 });
  return { version: RUN_FILE_VERSION, kind: RUN_FILE_KIND, config, ...metrics, summary: { steps: 60, grokStep: 40, stopReason: 'completed', final: last, wallMs: 5, adapter: 'fixture' } };
}

const analysisFixture: AnalysisFile = {
  kind: ANALYSIS_FILE_KIND,
  version: ANALYSIS_FILE_VERSION,
  run: { preset: 'quick-add', seed: 5, steps: 60, grokStep: 40, adapter: 'fixture' },
  at: { requested: 'late', step: 60, windowStep: 60 },
  seed: 5,
  experiments: { probe: { notApplicable: 'probes need Dyck or SCAN' } },
  wallMs: 12,
};

/** Every path to a leaf or array of a JSON value. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return [prefix];
  const own = Object.entries(value).flatMap(([k, v]) => paths(v, [...prefix, Array.isArray(value) ? Number(k) : k]));
  return Array.isArray(value) ? [prefix, ...own] : own;
}

function setAt(root: unknown, path: (string | number)[], replacement: unknown): unknown {
  const copy = structuredClone(root);
  if (path.length === 0) return replacement;
  let node = copy as Record<string | number, unknown>;
  for (const p of path.slice(0, -1)) node = node[p] as Record<string | number, unknown>;
  node[path.at(-1)!] = replacement;
  return copy;
}

/** A hostile replacement for a value: another type, an out-of-range number, a huge array. */
const hostile = fc.oneof(
  fc.constantFrom<unknown>(null, true, 'x', {}, [], -1, -1e308, 1e308, 0, 2 ** 53, -0.5, 30011, 1e9),
  fc.integer({ min: 10_000, max: 200_000 }).map((n) => new Array(n).fill(1)),
  fc.double(),
);

/** The property: a clean one-line error of the expected kind, or a result that is the file as given. */
function cleanOrUnchanged(parse: (input: string) => unknown, text: string, errors: (new (...args: never[]) => Error)[]): void {
  let result: unknown;
  try {
    result = parse(text);
  } catch (err) {
    if (!errors.some((E) => err instanceof E)) throw err;
    const message = (err as Error).message;
    expect(message.length).toBeGreaterThan(0);
    expect(message).not.toMatch(/\n/);
    return;
  }
  expect(result).toEqual(JSON.parse(text));
}

const fileCases = [
  { name: 'run file', file: runFixture(), parse: (t: string) => parseRunFile(t) },
  { name: 'analysis file', file: analysisFixture, parse: (t: string) => parseAnalysisFile(t) },
];

describe.each(fileCases)('a damaged $name', ({ file, parse }) => {
  const text = JSON.stringify(file);
  const leaves = paths(file);

  it('is read as it is when intact', () => {
    expect(parse(text)).toEqual(file);
  });

  it('truncated or with a flipped byte: a clean error or the same file', () => {
    fc.assert(
      fc.property(fc.nat({ max: text.length - 1 }), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, mask, truncate) => {
        const bytes = new TextEncoder().encode(text);
        const damaged = truncate ? bytes.subarray(0, at) : bytes.map((b, i) => (i === at ? b ^ mask : b));
        const changed = new TextDecoder().decode(damaged);
        let valid = true;
        try {
          JSON.parse(changed);
        } catch {
          valid = false;
        }
        if (!valid) {
          expect(() => parse(changed)).toThrow(FormatError);
          return;
        }
        cleanOrUnchanged(parse, changed, [FormatError]);
      }),
      { numRuns: 300 },
    );
  });

  it('with a value of another type, out of range or huge: a clean error or the same file', () => {
    fc.assert(
      fc.property(fc.constantFrom(...leaves), hostile, (path, replacement) => {
        cleanOrUnchanged(parse, JSON.stringify(setAt(file, path, replacement)), [FormatError]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('a damaged checkpoint', () => {
  const n = buildParamTable(config.model).total;
  const rng = new Rng(3);
  const floats = () => Float32Array.from({ length: n }, () => rng.normal());
  const run = runFixture();
  const metrics = { series: run.series, events: run.events };
  const checkpoint = { step: 60, engine: { step: 60, optim: config.optim, params: floats(), m: floats(), v: floats() }, sampler: null, metrics, mark: markOf(metrics) };
  const bytes = encodeCheckpoint(checkpoint, config);
  const open = (b: Uint8Array) => decodeCheckpoint(b, { run: { config, metrics } });

  it('opens when intact, with its weights', () => {
    expect(Array.from(open(bytes).checkpoint.engine.params)).toEqual(Array.from(checkpoint.engine.params));
  });

  it('is refused whatever byte flips or wherever it is cut, unless the bytes that changed carry nothing', () => {
    fc.assert(
      fc.property(fc.nat({ max: bytes.byteLength - 1 }), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, mask, truncate) => {
        const damaged = truncate ? bytes.slice(0, at) : bytes.map((b, i) => (i === at ? b ^ mask : b));
        let decoded;
        try {
          decoded = open(damaged);
        } catch (err) {
          expect(err).toBeInstanceOf(CheckpointFileError);
          expect((err as Error).message).not.toMatch(/\n/);
          return;
        }
        // Accepted: only the zero padding between the header and the sections changed, and the weights are intact.
        expect(truncate).toBe(false);
        for (const k of ['params', 'm', 'v'] as const) expect(decoded.checkpoint.engine[k]).toEqual(checkpoint.engine[k]);
      }),
      { numRuns: 400 },
    );
  });

  it('with a history or configuration of another run is refused', () => {
    const other = resolveRunConfig('quick-add', 6, { steps: 100, evalEvery: 10, spectral: { enabled: false } });
    expect(() => decodeCheckpoint(bytes, { run: { config: other, metrics } })).toThrow(/belongs to another run \(config\.seed is 5 in the checkpoint, 6 in the run\)/);
    const shifted = { ...metrics, series: { ...metrics.series, testLoss: metrics.series.testLoss.map((x) => x + 1) } };
    expect(() => decodeCheckpoint(bytes, { run: { config, metrics: shifted } })).toThrow(/a checkpoint of another run/);
  });
});
