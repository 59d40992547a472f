// A quick-add model that has grokked, for the experiments' acceptance tests: seed 1, weight decay 1, trained to
// step 500 (it groks at 440 on SwiftShader; docs/science.md: 440-540), tracking the spectral edge at the preset's cadence
// (a window of 10 snapshots every 20 steps) and taking the live causal probes at theirs (every 100 steps). Training takes about a minute on SwiftShader, so the first test file
// that needs it keeps its checkpoint in node_modules/.cache, keyed by a hash of the engine's sources (src/,
// shaders/), the run's config and the adapter: the other files restore it (bit for bit, test/at-step.test.ts)
// instead of training again, and any change to the engine trains afresh.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { testRuntime } from './gpu';
import type { Trainer } from '../../src/train/trainer';
import { createTrainer } from '../../src/analysis/live-causal';
import { resolveRunConfig } from '../../src/train/run';
import type { RunConfig } from '../../src/formats/run-file';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/train/checkpoint-file';
import type { GpuRuntime } from '../../src/gpu/runtime';

export const GROKKED_STEPS = 500;
const CACHE_DIR = 'node_modules/.cache/spectral-edge-lab';

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort();
}

/** Where this engine's checkpoint of `config` on this adapter is kept. */
async function cachePath(rt: GpuRuntime, config: RunConfig): Promise<string> {
  const hash = createHash('sha256').update(JSON.stringify({ config, adapter: rt.adapter }));
  for (const file of [...(await sourceFiles('src')), ...(await sourceFiles('shaders'))]) hash.update(file).update(await readFile(file));
  return join(CACHE_DIR, `grokked-quick-add-${hash.digest('hex').slice(0, 16)}.ckpt`);
}

let trained: Promise<Trainer> | undefined;
export function grokkedQuickAdd(): Promise<Trainer> {
  trained ??= (async () => {
    const rt = await testRuntime();
    // With the live causal probes at their default cadence (every 100 steps, from the first window at 200).
    const config = resolveRunConfig('quick-add', 1, { steps: GROKKED_STEPS, evalEvery: 20, causal: { enabled: true } });
    const trainer = await createTrainer(rt, config);
    const path = await cachePath(rt, config);
    const cached = await readFile(path).catch(() => null);
    if (cached) {
      trainer.restore(decodeCheckpoint(cached).checkpoint);
    } else {
      await trainer.run();
      await mkdir(CACHE_DIR, { recursive: true });
      await writeFile(path, encodeCheckpoint(await trainer.checkpoint(), config, { withHistory: true }));
    }
    if (trainer.step !== GROKKED_STEPS) throw new Error(`the grokked fixture is at step ${trainer.step}, expected ${GROKKED_STEPS}`);
    if (trainer.grokStep === null) throw new Error(`quick-add seed 1 did not grok in ${GROKKED_STEPS} steps: an engine bug, not a fixture to loosen`);
    return trainer;
  })();
  return trained;
}
