// `npm run phase-diagram -- --preset quick-add [options]`: the train fraction x decay strength grid of docs/science.md §4, L2
// against Low-Rank Decay (src/train/phase-diagram.ts), one cell after another with a progress line, the file
// rewritten after every cell. Run it again with the same options to continue: finished cells are kept, and a cell
// stopped by Ctrl-C continues from the checkpoint written beside the file. The task, model and optimiser options
// (src/cli/run-options.ts, shared with the experiment) become the plan's overrides, which every cell's run takes.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { acquireNodeDevice } from '../gpu/node-gpu';
import { GpuRuntime } from '../gpu/runtime';
import { PRESETS } from '../train/presets';
import type { PresetName } from '../formats/task';
import { decodeCheckpoint, encodeCheckpoint, type DecodedCheckpoint } from '../train/checkpoint-file';
import { SOLVED_TEST_ACCURACY } from '../train/metrics';
import { checkContinues, describeCell, runPhaseDiagram, validatePlan } from '../train/phase-diagram';
import { parsePhaseDiagramFile, phaseDiagramCells, type PhaseDiagramFile, type PhaseDiagramPlan } from '../formats/phase-diagram-file';
import { cellSummary, diagramTables } from './phase-table';
import { integerOption, parseArgs, UsageError, runCli } from './args';
import { checkWritable, writeAtomically } from './outputs';
import { RUN_OPTIONS_DEFAULTS, RUN_OPTIONS_USAGE, runOptionOverrides } from './run-options';
import { formatDuration, ProgressPrinter } from './progress';

const USAGE = `usage: npm run phase-diagram -- --preset <modarith|quick-add|multitask|quick-multitask> [options]
  --seed N            run seed of every cell (default 42)
  --fractions LIST    train fractions, comma-separated in (0, 1) (default 0.3,0.45,0.6)
  --l2 LIST           weight decays of the L2 cells (AdamW on every parameter; default 0.3,1,3; "none": no L2 cells)
  --lrd LIST          Low-Rank Decay rates of the LRD cells (W_Q and W_K of every attention module; the other
                      parameters keep AdamW at the preset's weight decay; default 0.003,0.01,0.03; "none": no LRD cells)
  --steps N           steps per cell (default: the preset's)
  --eval-every N      evaluation cadence (default: the preset's)
  --early-stop K      end a cell once test accuracy has been >= ${SOLVED_TEST_ACCURACY} for K evaluations in a row (default: off)
  --out FILE          the diagram's file (default runs/phase-<preset>-seed<seed>.json); if it exists with the same
                      options, its finished cells are kept and the rest run
every cell's run (LRD's diagram: --preset modarith --p 113 --norm rms --qk-norm):
${RUN_OPTIONS_USAGE}
exit codes: 0 done, 1 failed, 2 bad arguments or an output that cannot be written, 130 interrupted (the file and the unfinished cell's checkpoint are written)`;

const DEFAULTS = {
  preset: '', seed: '42', fractions: '0.3,0.45,0.6', l2: '0.3,1,3', lrd: '0.003,0.01,0.03', steps: '', 'eval-every': '', 'early-stop': '', out: '', help: false,
  ...RUN_OPTIONS_DEFAULTS,
};

function numberList(name: string, text: string): number[] {
  if (text.trim() === 'none') return [];
  const values = text.split(',').map((t) => Number(t.trim()));
  if (text.trim() === '' || values.some((v) => !Number.isFinite(v))) throw new UsageError(`--${name} must be comma-separated numbers (or none), got "${text}"`);
  if (name !== 'fractions' && values.some((v) => v < 0)) throw new UsageError(`--${name}: decay strengths must be >= 0, got "${text}"`);
  return values;
}

function parsePlan(argv: string[]): { plan: PhaseDiagramPlan; out: string } | 'help' {
  const args = parseArgs(argv, DEFAULTS);
  if (args.help) return 'help';
  if (args.preset === '') throw new UsageError('--preset is required');
  if (!(args.preset in PRESETS)) throw new UsageError(`unknown preset "${args.preset}"; choose from ${Object.keys(PRESETS).join(', ')}`);
  const preset = PRESETS[args.preset as PresetName];
  const seed = integerOption('seed', args.seed) ?? 42;
  const earlyStop = integerOption('early-stop', args['early-stop']) ?? null;
  const plan: PhaseDiagramPlan = {
    preset: preset.name,
    seed,
    steps: integerOption('steps', args.steps) ?? preset.steps,
    evalEvery: integerOption('eval-every', args['eval-every']) ?? preset.evalEvery,
    trainFractions: numberList('fractions', args.fractions),
    l2: numberList('l2', args.l2),
    lrd: numberList('lrd', args.lrd),
    earlyStop,
  };
  const overrides = runOptionOverrides(args);
  if (Object.keys(overrides).length > 0) plan.overrides = overrides;
  try {
    validatePlan(plan);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return { plan, out: args.out || `runs/phase-${plan.preset}-seed${seed}.json` };
}

/** " (p 113, norm rms, qkNorm true)": the overrides every cell takes; nothing without any. */
function describeOverrides(overrides: PhaseDiagramPlan['overrides']): string {
  const given = Object.entries(overrides ?? {});
  return given.length === 0 ? '' : ` (${given.map(([k, v]) => `${k} ${v}`).join(', ')})`;
}

async function main(): Promise<number> {
  const parsed = parsePlan(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { plan, out } = parsed;
  const partialPath = `${out.replace(/\.json$/, '')}.partial.ckpt`;
  checkWritable('--out', out, 'file');
  checkWritable('--out', partialPath, 'file');
  let previous: PhaseDiagramFile | undefined;
  let partial: DecodedCheckpoint | undefined;
  if (existsSync(out)) {
    try {
      previous = parsePhaseDiagramFile(readFileSync(out, 'utf8'));
    } catch (err) {
      process.stderr.write(`phase-diagram: ${out} exists and is not a phase-diagram file to continue (${(err as Error).message}); pass another --out\n`);
      return 2;
    }
    try {
      checkContinues(previous, plan);
    } catch (err) {
      process.stderr.write(`phase-diagram: ${out}: ${(err as Error).message}; pass the same options to continue it, or another --out\n`);
      return 2;
    }
  }
  if (existsSync(partialPath)) partial = decodeCheckpoint(readFileSync(partialPath));

  const rt = new GpuRuntime(await acquireNodeDevice());
  const progress = new ProgressPrinter(process.stdout);
  const total = phaseDiagramCells(plan).length;
  progress.message(
    `phase diagram on ${plan.preset}${describeOverrides(plan.overrides)}, seed ${plan.seed}: ${total} cells of ${plan.steps} steps on ${rt.adapter.description}` +
      (previous ? `; continuing ${out}, ${previous.cells.length} cells done` : ''),
  );
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    progress.message('interrupted: saving the current cell (Ctrl-C again to abort)');
  });
  const start = performance.now();
  const outcome = await runPhaseDiagram(
    rt,
    plan,
    {
      onCellStart: (cell, i, n, resumedAt) => progress.message(`cell ${i + 1}/${n}: ${describeCell(cell)}${resumedAt === null ? '' : ` (continuing at step ${resumedAt})`}`),
      onEvaluation: (p) => progress.update(p),
      onCellDone: (file, result) => {
        writeAtomically(out, JSON.stringify(file));
        rmSync(partialPath, { force: true });
        progress.message(`  ${cellSummary(result)} (${formatDuration(result.wallMs)})`);
      },
      shouldStop: () => interrupted,
    },
    previous,
    partial,
  );
  if (outcome.interrupted) {
    writeAtomically(out, JSON.stringify(outcome.file));
    writeAtomically(partialPath, encodeCheckpoint(outcome.interrupted.checkpoint, outcome.interrupted.config, { withHistory: true }));
    progress.message(`stopped after ${formatDuration(performance.now() - start)}: ${outcome.file.cells.length}/${total} cells in ${out}; run the same command to continue`);
    rt.destroy();
    return 130;
  }
  writeAtomically(out, JSON.stringify(outcome.file));
  progress.message(`${diagramTables(outcome.file)}\nall ${total} cells in ${out} (${formatDuration(performance.now() - start)} this call)`);
  rt.destroy();
  return 0;
}

runCli('phase-diagram', main, USAGE);
