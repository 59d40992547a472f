// The task data sets as text lines, `input<TAB>target` with single spaces inside each field, for `npm run data`
// (inspecting the data, diffing it against other implementations, feeding it to other tools).
import { parseArgs } from './args';
import { DYCK, dyckSplit, type DyckSet } from '../tasks/dyck';
import { MOD_OPS, modArithSplit, type Pairs } from '../tasks/modarith';
import type { ModOp } from '../formats/task';
import { MULTITASK_OPS, multitaskSplit, type MultitaskPairs } from '../tasks/multitask';
import { SCAN_SPLITS, scanCommands, scanPaperSubset, scanSplit, type ScanPair, type ScanSplitName } from '../tasks/scan';

const PARTS = ['train', 'test'] as const;
type Part = (typeof PARTS)[number];

export const DATA_USAGE = `usage:
  npm run data -- scan --split <all|${SCAN_SPLITS.join('|')}|paper> [--part <train|test>] [--seed N]
  npm run data -- dyck --part <train|test>
  npm run data -- modarith --part <train|test> [--p 97] [--op ${Object.keys(MOD_OPS).join('|')}] [--fraction 0.5] [--seed 42]
  npm run data -- multitask --part <train|test> [--p 97] [--ops ${MULTITASK_OPS.join(',')}] [--fraction 0.5] [--seed 42]`;

/** "( ( ) )<TAB>1 2 1 0" per sequence: the tokens and depth labels of its non-PAD positions. */
export function dyckLines(set: DyckSet): string[] {
  const lines: string[] = [];
  for (let s = 0; s < set.count; s++) {
    const symbols: string[] = [];
    const depths: number[] = [];
    for (let j = s * DYCK.context; j < (s + 1) * DYCK.context && set.tokens[j] !== DYCK.pad; j++) {
      symbols.push(set.tokens[j] === DYCK.open ? '(' : ')');
      depths.push(set.targets[j]);
    }
    lines.push(`${symbols.join(' ')}\t${depths.join(' ')}`);
  }
  return lines;
}

/** "jump twice<TAB>I_JUMP I_JUMP" per pair. */
export function scanLines(pairs: ScanPair[]): string[] {
  return pairs.map((p) => `${p.command.join(' ')}\t${p.actions.join(' ')}`);
}

/** "a b<TAB>c" per pair. */
export function modArithLines(pairs: Pairs): string[] {
  return Array.from(pairs.y, (y, i) => `${pairs.a[i]} ${pairs.b[i]}\t${y}`);
}

/** "a b<TAB>c1 c2 ..." per pair: one label per op, in the order of `ops`. */
export function multitaskLines(pairs: MultitaskPairs, heads: number): string[] {
  return Array.from(pairs.a, (a, i) => `${a} ${pairs.b[i]}\t${Array.from(pairs.labels.subarray(i * heads, (i + 1) * heads)).join(' ')}`);
}

/** The lines `npm run data -- <argv>` prints; throws an Error saying what is wrong with a bad request. */
export function datasetLines(argv: string[]): string[] {
  const [task, ...options] = argv.filter((a, i) => !(i === 0 && a === '--'));
  switch (task) {
    case 'scan': {
      const args = parseArgs(options, { split: 'all', part: '', seed: '42' });
      if (args.split === 'all') {
        if (args.part !== '') throw new Error('--split all has no parts; leave out --part');
        return scanLines(scanCommands());
      }
      const seed = integerOption('seed', args.seed);
      const split = args.split === 'paper' ? scanPaperSubset(seed) : scanSplit(scanSplitName(args.split), seed);
      return scanLines(split[partOption(args.part)]);
    }
    case 'dyck': {
      const args = parseArgs(options, { part: '' });
      return dyckLines(dyckSplit()[partOption(args.part)]);
    }
    case 'modarith': {
      const args = parseArgs(options, { part: '', p: '97', op: 'add', fraction: '0.5', seed: '42' });
      if (!(args.op in MOD_OPS)) throw new Error(`unknown --op ${args.op}; choose from ${Object.keys(MOD_OPS).join(', ')}`);
      const split = modArithSplit({
        p: integerOption('p', args.p),
        op: args.op as ModOp,
        trainFraction: Number(args.fraction),
        seed: integerOption('seed', args.seed),
      });
      return modArithLines(split[partOption(args.part)]);
    }
    case 'multitask': {
      const args = parseArgs(options, { part: '', p: '97', ops: MULTITASK_OPS.join(','), fraction: '0.5', seed: '42' });
      const ops = args.ops.split(',').map((op) => op.trim()) as ModOp[];
      const split = multitaskSplit({ p: integerOption('p', args.p), ops, trainFraction: Number(args.fraction), seed: integerOption('seed', args.seed) });
      return multitaskLines(split[partOption(args.part)], ops.length);
    }
    default: {
      const tasks = 'scan, dyck, modarith or multitask';
      throw new Error(task === undefined ? `no task given; choose ${tasks}` : `unknown task ${task}; choose ${tasks}`);
    }
  }
}

function partOption(value: string): Part {
  if (value === '') throw new Error('--part is required: train or test');
  if (!(PARTS as readonly string[]).includes(value)) throw new Error(`unknown --part ${value}; choose train or test`);
  return value as Part;
}

function scanSplitName(value: string): ScanSplitName {
  if (!(SCAN_SPLITS as readonly string[]).includes(value)) throw new Error(`unknown --split ${value}; choose all, ${SCAN_SPLITS.join(', ')} or paper`);
  return value as ScanSplitName;
}

function integerOption(name: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n)) throw new Error(`--${name} must be an integer, got ${value}`);
  return n;
}
