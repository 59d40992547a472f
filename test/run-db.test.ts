// The saved-run database (src/worker/run-db.ts) on fake-indexeddb: a failed open is tried again, a newer version
// opened by another tab is let through, every record read is checked (a damaged one is listed as such, and opening
// it names the record), an older database and its records are upgraded so its runs still open, and a run claimed
// by one tab cannot be claimed by another until it is given back; the grok step's checkpoint is kept beside a run's.
import { describe, expect, it } from 'vitest';
import { IDBFactory } from 'fake-indexeddb';
import { DamagedRunError, RUN_DB_VERSION, RunDb, checkSummary, type RunLocks } from '../src/worker/run-db';
import { resolveRunConfig } from '../src/train/run';
import { RUN_FILE_KIND, RUN_FILE_VERSION, type RunFile } from '../src/formats/run-file';
import { appendPoint, emptyMetrics } from '../src/train/metrics';
import { METRIC_KEYS, type MetricPoint } from '../src/formats/metrics';
import type { SavedRunSummary } from '../src/formats/worker';

function runFile(): RunFile {
  const config = resolveRunConfig('quick-add', 5, { steps: 20, evalEvery: 10 });
  const metrics = emptyMetrics();
  let last: MetricPoint | null = null;
  for (const step of [10, 20]) {
    last = Object.fromEntries(METRIC_KEYS.map((k) => [k, k === 'step' ? step : step / 100])) as unknown as MetricPoint;
    appendPoint(metrics.series, last);
  }
  return { version: RUN_FILE_VERSION, kind: RUN_FILE_KIND, config, ...metrics, summary: { steps: 20, grokStep: null, stopReason: 'completed', final: last, wallMs: 5, adapter: 'test' } };
}

const summary = (id: string, updatedAt = 1): SavedRunSummary => ({
  id, title: `run ${id}`, preset: 'quick-add', seed: 5, createdAt: 0, updatedAt, step: 20, totalSteps: 20, checkpointStep: 20,
  grokStep: null, finished: true, stopReason: 'completed', schedule: [{ step: 0, lr: 0.01, weightDecay: 1 }],
});

const request = <T>(r: IDBRequest<T>) =>
  new Promise<T>((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });

/** Puts raw values into a store, as a damaged or older database holds them. */
async function putRaw(factory: IDBFactory, name: string, store: string, key: string, value: unknown): Promise<void> {
  const db = await request(factory.open(name));
  const tx = db.transaction(store, 'readwrite');
  tx.objectStore(store).put(value, key);
  await new Promise((resolve) => (tx.oncomplete = resolve));
  db.close();
}

describe('the saved-run database', () => {
  it('saves, lists newest first and reads back a run', async () => {
    const db = new RunDb({ factory: new IDBFactory(), locks: null });
    await db.save(summary('a', 1), runFile(), Uint8Array.of(1, 2, 3));
    await db.save(summary('b', 2), runFile(), Uint8Array.of(4));
    expect(await db.list()).toEqual({ runs: [summary('b', 2), summary('a', 1)], damaged: [] });
    const a = await db.get('a');
    expect(a.runFile).toEqual(runFile());
    expect(a.checkpoint).toEqual(Uint8Array.of(1, 2, 3));
    await db.delete('a');
    await expect(db.get('a')).rejects.toThrow('no saved run with id a');
  });

  it('tries a failed open again instead of keeping the failure', async () => {
    const real = new IDBFactory();
    let failures = 1;
    const flaky = {
      open: (name: string, version?: number) => {
        if (failures-- > 0) throw new DOMException('the quota is exceeded', 'QuotaExceededError');
        return real.open(name, version);
      },
    } as unknown as IDBFactory;
    const db = new RunDb({ factory: flaky, locks: null });
    await expect(db.list()).rejects.toThrow('the quota is exceeded');
    expect(await db.list()).toEqual({ runs: [], damaged: [] });
  });

  it('closes its connection when another tab opens a newer version, and opens again when asked', async () => {
    const factory = new IDBFactory();
    const db = new RunDb({ factory, locks: null, name: 'versions' });
    await db.save(summary('a'), runFile(), Uint8Array.of(1));
    // Not blocked: the upgrade goes through because this connection closed on versionchange.
    const newer = factory.open('versions', RUN_DB_VERSION + 1);
    newer.onblocked = () => expect.unreachable('the upgrade was blocked by the lab\'s open connection');
    (await request(newer)).close();
    await expect(db.list()).rejects.toThrow(); // this lab is older than the database now
    await expect(db.list()).rejects.toThrow(); // and says so again (nothing cached)
  });

  it('lists a damaged summary with its reason, and names the damaged record of a run on opening it', async () => {
    const factory = new IDBFactory();
    const db = new RunDb({ factory, locks: null, name: 'damage' });
    for (const id of ['good', 'bad-summary', 'bad-file', 'bad-checkpoint']) await db.save(summary(id), runFile(), Uint8Array.of(1));
    await putRaw(factory, 'damage', 'summaries', 'bad-summary', { ...summary('bad-summary'), step: 'twenty' });
    await putRaw(factory, 'damage', 'runFiles', 'bad-file', { ...runFile(), series: null });
    await putRaw(factory, 'damage', 'checkpoints', 'bad-checkpoint', 'not bytes');
    await putRaw(factory, 'damage', 'runFiles', 'orphan', runFile());

    const list = await db.list();
    expect(list.runs.map((r) => r.id).sort()).toEqual(['bad-checkpoint', 'bad-file', 'good']);
    expect(list.damaged).toEqual([
      { id: 'bad-summary', reason: 'its summary\'s step must be a finite number, got "twenty"' },
      { id: 'orphan', reason: 'its summary is missing' },
    ]);
    const fileError = await db.get('bad-file').catch((e: unknown) => e);
    expect(fileError).toBeInstanceOf(DamagedRunError);
    expect((fileError as Error).message).toMatch(/^the saved run bad-file is damaged: its run file: .*series.*; delete it$/);
    await expect(db.get('bad-checkpoint')).rejects.toThrow('the saved run bad-checkpoint is damaged: its checkpoint is not bytes ([object String]); delete it');
    await expect(db.get('bad-summary')).rejects.toThrow(DamagedRunError);
    // Once found, a damaged run is listed as such, until it is deleted.
    expect((await db.list()).damaged.map((d) => d.id)).toEqual(['bad-checkpoint', 'bad-file', 'bad-summary', 'orphan']);
    for (const id of ['bad-summary', 'bad-file', 'bad-checkpoint', 'orphan']) await db.delete(id);
    expect(await db.list()).toEqual({ runs: [summary('good')], damaged: [] });
  });

  it('checks every field of a summary', () => {
    expect(checkSummary(summary('x'), 'x')).toEqual(summary('x'));
    expect(() => checkSummary(undefined, 'x')).toThrow('its summary is missing');
    expect(() => checkSummary(summary('y'), 'x')).toThrow('its summary\'s id must be "x" (the key it is stored under), got "y"');
    expect(() => checkSummary({ ...summary('x'), finished: 'yes' }, 'x')).toThrow('its summary\'s finished must be true or false, got "yes"');
    expect(() => checkSummary({ ...summary('x'), stopReason: 'bored' }, 'x')).toThrow('its summary\'s stopReason must be null or one of completed');
    expect(() => checkSummary({ ...summary('x'), schedule: [{ step: 5, lr: -1, weightDecay: 0 }] }, 'x')).toThrow('its summary\'s schedule[0].lr must be a finite number >= 0, got -1');
  });

  it('upgrades a database of version 1 and its version-2 run files, so its runs still open', async () => {
    const factory = new IDBFactory();
    // The lab before the live causal probes: database version 1, run files of version 2.
    const old = factory.open('old', 1);
    old.onupgradeneeded = () => {
      for (const store of ['summaries', 'runFiles', 'checkpoints']) old.result.createObjectStore(store);
    };
    (await request(old)).close();
    const { causal: _, ...configV2 } = runFile().config;
    const fileV2 = { ...runFile(), version: 2, config: configV2 };
    await putRaw(factory, 'old', 'summaries', 'r', summary('r'));
    await putRaw(factory, 'old', 'runFiles', 'r', fileV2);
    await putRaw(factory, 'old', 'checkpoints', 'r', Uint8Array.of(9));

    const db = new RunDb({ factory, locks: null, name: 'old' });
    expect((await db.list()).runs).toEqual([summary('r')]);
    const raw = await request(factory.open('old'));
    expect(raw.version).toBe(RUN_DB_VERSION);
    const stored = await request(raw.transaction('runFiles').objectStore('runFiles').get('r'));
    raw.close();
    expect(stored.version).toBe(RUN_FILE_VERSION); // rewritten in the current format
    const saved = await db.get('r');
    expect(saved.runFile.version).toBe(RUN_FILE_VERSION);
    expect(saved.runFile.series).toEqual(fileV2.series);
    expect(saved.checkpoint).toEqual(Uint8Array.of(9));
    // Version 3 added the grok checkpoints: an older run has none, and one saved now keeps its own.
    expect(saved.grokCheckpoint).toBeNull();
    await db.save({ ...summary('r'), grokCheckpointStep: 10 }, saved.runFile, Uint8Array.of(9), Uint8Array.of(7));
    expect((await db.get('r')).grokCheckpoint).toEqual(Uint8Array.of(7));
  });

  it('keeps the grok checkpoint given once across the saves after it, and deletes it with the run', async () => {
    const factory = new IDBFactory();
    const db = new RunDb({ factory, locks: null });
    await db.save(summary('g'), runFile(), Uint8Array.of(1));
    expect((await db.get('g')).grokCheckpoint).toBeNull();
    await db.save({ ...summary('g'), grokCheckpointStep: 10 }, runFile(), Uint8Array.of(2), Uint8Array.of(5, 5));
    await db.save({ ...summary('g'), grokCheckpointStep: 10 }, runFile(), Uint8Array.of(3));
    expect(await db.get('g')).toMatchObject({ checkpoint: Uint8Array.of(3), grokCheckpoint: Uint8Array.of(5, 5), summary: { grokCheckpointStep: 10 } });
    await putRaw(factory, 'spectral-edge-lab', 'grokCheckpoints', 'g', 'not bytes');
    await expect(db.get('g')).rejects.toThrow('its grok checkpoint is not bytes');
    await db.delete('g');
    await expect(db.get('g')).rejects.toThrow('no saved run with id g');
  });

  it('lets one claim of a run stand at a time', async () => {
    const held = new Set<string>();
    const locks: RunLocks = {
      async request(name, _options, callback) {
        if (held.has(name)) return callback(null);
        held.add(name);
        try {
          return await callback({ name });
        } finally {
          held.delete(name);
        }
      },
    };
    const tabA = new RunDb({ factory: new IDBFactory(), locks });
    const tabB = new RunDb({ factory: new IDBFactory(), locks });
    const release = await tabA.claim('r');
    expect(release).toBeTypeOf('function');
    expect(await tabB.claim('r')).toBeNull();
    expect(await tabB.claim('other')).toBeTypeOf('function');
    release!();
    await new Promise((r) => setTimeout(r, 0));
    expect(await tabB.claim('r')).toBeTypeOf('function');
  });
});
