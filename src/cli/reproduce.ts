// `npm run reproduce -- <study> [--quick] [--seeds LIST] [--out DIR] [--budget-minutes M] [--shard i/N] [--merge]`:
// runs a reproduction study (src/reproduce/) unit by unit on this machine's WebGPU adapter, writing one file per
// finished unit into DIR, so a killed study continues where it stopped and shards on other machines can be merged;
// then (or with --merge, without a GPU) writes DIR/report.md, DIR/report.json and the figures. Every bad input is
// refused with one line before any GPU work.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireNodeDevice } from '../gpu/node-gpu';
import { GpuRuntime } from '../gpu/runtime';
import { RunConfigError } from '../train/run';
import { buildStudy } from '../reproduce/studies';
import { isStudyName, STUDY_NAMES, studyLabel, type StudyPlan } from '../reproduce/study';
import { isUnitFileName, parseUnitFile, unitFileName, UnitFileError, type UnitFile } from '../reproduce/unit-file';
import { outcomesOf, parseShard, runStudy, shardUnits, StudyInputError, type Shard, type StudyProgress } from '../reproduce/runner';
import { buildReport, renderMarkdown } from '../reproduce/report';
import { studyFigures } from '../reproduce/figures';
import { svgToPng } from './png';
import { studySteps, unitLowerBoundMs, unitSteps } from '../reproduce/estimate';
import { describeAnalysis } from '../reproduce/unit-run';
import { integerOption, numberOption, parseArgs, UsageError, runCli } from './args';
import { formatDuration, progressLine, ProgressPrinter } from './progress';

const USAGE = `usage: npm run reproduce -- <${STUDY_NAMES.join('|')}> [options]
  --quick               the quick variant (quick presets; compared with this lab's earlier measurements)
  --seeds LIST          comma-separated seeds (default: full 42,1,2; quick 42)
  --out DIR             where unit files and the report go (default runs/reproduce/<study>[-quick]); an existing
                        DIR of the same study continues: finished units are kept, the rest run
  --budget-minutes M    start no unit the time left cannot fit (by the mean unit time so far); run again to continue
  --shard i/N           run every N-th unit, starting with the i-th (1 <= i <= N), for N machines or GPUs
  --merge               build the report from the unit files in DIR (no GPU); missing units are listed
  --plan                print the units, their steps and a lower bound of their H100 time, and exit
  --steps N             shorten every unit to N steps (a smoke test of the machinery; the report says so)
exit codes: 0 done, 1 failed, 2 bad input, 3 stopped by the budget, 130 interrupted (finished units are kept)`;

const DEFAULTS = { quick: false, seeds: '', out: '', 'budget-minutes': '', shard: '', merge: false, plan: false, steps: '', help: false };

interface Invocation {
  plan: StudyPlan;
  out: string;
  shard?: Shard;
  budgetMs?: number;
  merge: boolean;
  printPlan: boolean;
}

/** "42,1,2" -> [42, 1, 2]; empty or malformed lists are a UsageError. */
export function parseSeeds(text: string): number[] {
  if (text.trim() === '') throw new UsageError('--seeds is empty; give comma-separated integers, e.g. 42,1,2');
  const parts = text.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p) || Number(p) > 0xffffffff)) throw new UsageError(`--seeds must be comma-separated integers in [0, 2^32), got "${text}"`);
  return parts.map(Number);
}

function parseInvocation(argv: string[]): Invocation | 'help' {
  const rest = argv.filter((a) => a !== '--');
  const name = rest[0] && !rest[0].startsWith('--') ? rest.shift()! : '';
  const args = parseArgs(rest, DEFAULTS);
  if (args.help) return 'help';
  if (name === '') throw new UsageError(`the study is required; choose from ${STUDY_NAMES.join(', ')}`);
  if (!isStudyName(name)) throw new UsageError(`unknown study "${name}"; choose from ${STUDY_NAMES.join(', ')}`);
  const seeds = args.seeds === '' && !rest.some((a) => a.startsWith('--seeds')) ? undefined : parseSeeds(args.seeds);
  const steps = integerOption('steps', args.steps);
  let plan: StudyPlan;
  try {
    plan = buildStudy(name, { quick: args.quick, ...(seeds && { seeds }), ...(steps !== undefined && { steps }) });
  } catch (err) {
    if (err instanceof RunConfigError) throw new UsageError(err.message);
    throw err;
  }
  let shard: Shard | undefined;
  try {
    shard = args.shard === '' ? undefined : parseShard(args.shard);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (args.merge && shard) throw new UsageError('--merge reads every shard’s units; drop --shard');
  const minutes = numberOption('budget-minutes', args['budget-minutes']);
  if (minutes !== undefined && !(minutes > 0)) throw new UsageError(`--budget-minutes must be > 0, got ${minutes}`);
  const budgetMs = minutes === undefined ? undefined : minutes * 60_000;
  if (budgetMs !== undefined) {
    const smallest = Math.min(...shardUnits(plan, shard).map(unitLowerBoundMs));
    if (budgetMs < smallest) throw new UsageError(`--budget-minutes ${minutes} cannot fit one unit: the smallest needs at least ${formatDuration(smallest)} even at an H100's step rate`);
  }
  return { plan, out: args.out || join('runs', 'reproduce', `${name}${args.quick ? '-quick' : ''}`), ...(shard && { shard }), ...(budgetMs !== undefined && { budgetMs }), merge: args.merge, printPlan: args.plan };
}

/** The unit files in `dir` (each checked against the plan: a foreign one is a UnitFileError naming it). */
function readUnits(dir: string, plan: StudyPlan): UnitFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter(isUnitFileName)
    .sort()
    .map((f) => parseUnitFile(f, readFileSync(join(dir, f), 'utf8'), plan));
}

function writeAtomically(path: string, data: string | Buffer): void {
  writeFileSync(`${path}.tmp`, data);
  renameSync(`${path}.tmp`, path);
}

/** Writes report.md, report.json and the figures (SVG and PNG); returns the report's Markdown. */
function writeReport(dir: string, plan: StudyPlan, files: UnitFile[]): string {
  const outcomes = outcomesOf(plan, files);
  const names: string[] = [];
  for (const [name, svg] of studyFigures(plan, outcomes)) {
    const png = name.replace(/\.svg$/, '.png');
    writeAtomically(join(dir, name), svg);
    writeAtomically(join(dir, png), svgToPng(svg));
    names.push(name, png);
  }
  const report = buildReport(plan, outcomes, names);
  const md = renderMarkdown(report);
  writeAtomically(join(dir, 'report.json'), `${JSON.stringify(report, null, 1)}\n`);
  writeAtomically(join(dir, 'report.md'), md);
  return md;
}

function describePlan(plan: StudyPlan): string {
  const total = studySteps(plan);
  const rows = plan.units.map((u) => `  ${u.id.padEnd(28)} ${String(unitSteps(u)).padStart(7)} steps  >= ${formatDuration(unitLowerBoundMs(u))}  ${u.label}`);
  return [`${studyLabel(plan.name, plan.quick)}: ${plan.units.length} unit${plan.units.length === 1 ? "" : "s"}, ${total.steps} steps, at least ${formatDuration(total.lowerBoundMs)} on an H100 (training steps only)`, ...rows].join('\n');
}

async function main(): Promise<number> {
  let inv: ReturnType<typeof parseInvocation>;
  let files: UnitFile[];
  try {
    inv = parseInvocation(process.argv.slice(2));
    if (inv === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    files = readUnits(inv.out, inv.plan);
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof UnitFileError || err instanceof StudyInputError)) throw err;
    process.stderr.write(`reproduce: ${err.message}\n`);
    return 2;
  }
  const { plan, out } = inv;
  const progress = new ProgressPrinter(process.stdout);
  if (inv.printPlan) {
    progress.message(describePlan(plan));
    return 0;
  }
  mkdirSync(out, { recursive: true });
  if (inv.merge) {
    const md = writeReport(out, plan, files);
    progress.message(`${md}\nreport of ${files.length}/${plan.units.length} units written to ${join(out, 'report.md')}`);
    return 0;
  }

  const rt = new GpuRuntime(await acquireNodeDevice());
  const mine = shardUnits(plan, inv.shard);
  progress.message(
    `${studyLabel(plan.name, plan.quick)}: ${mine.length} unit${mine.length === 1 ? '' : 's'}${inv.shard ? ` (shard ${inv.shard.index}/${inv.shard.count} of ${plan.units.length})` : ''}, ` +
      `${files.length} already in ${out}, on ${rt.adapter.description}`,
  );
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    progress.message('interrupted: stopping (the unit in progress is dropped; finished units are kept)');
  });
  const head = (p: StudyProgress) => `unit ${p.done + 1}/${p.total} ${p.unit.id}${p.etaMs === null ? '' : `, study ETA ${formatDuration(p.etaMs)}`}`;
  const { stop } = await runStudy(
    rt,
    plan,
    { finished: () => readUnits(out, plan), write: (f) => writeAtomically(join(out, unitFileName(f.unit.id)), JSON.stringify(f)) },
    {
      onUnitStart: (p) => progress.message(`${head(p)}: ${p.unit.label}`),
      onEvaluation: (p, t) => progress.status(`${head(p)} ${progressLine(t)}`),
      onAnalysis: (p, a) => {
        const line = `${head(p)}: ${describeAnalysis(a)}`;
        if (a.experiment) progress.status(line);
        else progress.message(line);
      },
      onUnitDone: (p, f) => progress.message(`unit ${p.done}/${p.total} ${f.unit.id} done in ${formatDuration(f.result.wallMs)}`),
      shouldStop: () => interrupted,
    },
    { ...(inv.shard && { shard: inv.shard }), ...(inv.budgetMs !== undefined && { budgetMs: inv.budgetMs, estimateUnitMs: unitLowerBoundMs }) },
  );
  rt.destroy();
  const all = readUnits(out, plan);
  if (stop === 'interrupted') {
    progress.message(`stopped: ${all.length}/${plan.units.length} units in ${out}; run the same command to continue`);
    return 130;
  }
  if (stop === 'budget') {
    progress.message(`budget reached: ${all.length}/${plan.units.length} units in ${out}; run the same command to continue`);
    return 3;
  }
  if (all.length < plan.units.length) {
    progress.message(`shard done: ${all.length}/${plan.units.length} units in ${out}; run with --merge once every shard has finished`);
    return 0;
  }
  const md = writeReport(out, plan, all);
  progress.message(`${md}\nreport written to ${join(out, 'report.md')}`);
  return 0;
}

runCli('reproduce', main);
