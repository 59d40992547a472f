// The shape of src/ (DESIGN.md): imports run downward only, ui -> store -> worker/cli -> reproduce/bench -> analysis -> train ->
// spectral -> model -> gpu, with formats and util beneath everything; formats imports nothing else of src/, and no
// files import each other in a circle. Reads the import statements of every source file; no GPU.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Each folder's floor: a file may import from its own folder or from a folder on a lower floor. */
const FLOORS: Record<string, number> = {
  ui: 9,
  store: 8,
  worker: 7,
  cli: 7,
  /** The paper studies: built on the analyses, run by the CLI. */
  reproduce: 6.5,
  /** The training-step benchmark: run by the CLI and the bench page's worker. */
  bench: 6.5,
  analysis: 6,
  train: 5,
  spectral: 4,
  tasks: 4,
  reference: 4,
  model: 3,
  gpu: 2,
  util: 1,
  formats: 0,
};

const SOURCE = /\.(ts|tsx)$/;
const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^;'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && SOURCE.test(e.name))
    .map((e) => normalize(join(e.parentPath, e.name)));
}

/** file -> the files of src/ it imports (shaders and other non-source imports left out). */
function importGraph(): Map<string, string[]> {
  const files = sourceFiles('src');
  const known = new Set(files);
  const resolve = (from: string, spec: string) =>
    [spec, `${spec}.ts`, `${spec}.tsx`, join(spec, 'index.ts')].map((s) => normalize(join(dirname(from), s))).find((f) => known.has(f));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(IMPORT)].map((m) => resolve(file, (m[1] ?? m[2]).replace(/\?.*$/, ''))).filter((t): t is string => t !== undefined);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

const folderOf = (file: string) => relative('src', file).split(/[\\/]/)[0];

/** Every circle of files, each as the path that closes it. */
function circles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

describe('the import graph of src/', () => {
  const graph = importGraph();
  const arrows = [...graph].flatMap(([from, targets]) => targets.map((to) => ({ from, to, a: folderOf(from), b: folderOf(to) })));

  it('reads the imports (a sanity check of the parser)', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get(normalize('src/train/trainer.ts'))).toContain(normalize('src/model/engine.ts'));
    expect(Object.keys(FLOORS).sort()).toEqual(readdirSync('src', { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort());
  });

  it('has no circle', () => {
    expect(circles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('formats imports nothing else of src/', () => {
    expect(arrows.filter((x) => x.a === 'formats' && x.b !== 'formats').map((x) => `${x.from} -> ${x.to}`)).toEqual([]);
  });

  it('runs downward only (no arrow back up, none sideways between folders of one floor)', () => {
    const upward = arrows.filter((x) => x.a !== x.b && FLOORS[x.b] >= FLOORS[x.a]);
    expect(upward.map((x) => `${x.from} -> ${x.to}`)).toEqual([]);
  });
});
