// The five reproduction studies (issue 20), each full (the paper presets, the papers' protocol) and quick (the quick
// presets, for CPU machines and tests, compared with values this lab measured before). A study is a plan: its units,
// in a fixed order (shards take every N-th), and the tables its report fills. Building a plan runs nothing.
import type { ExperimentName } from '../formats/experiments';
import { resolveRunConfig, RunConfigError } from '../train/run';
import type { RunOverrides } from '../formats/run-file';
import { cellConfig } from '../train/phase-diagram';
import { phaseDiagramCells, type PhaseDiagramPlan, type PhaseOverrides } from '../formats/phase-diagram-file';
import type { PresetName } from '../formats/task';
import type { Spread } from './compare';
import {
  metric, STUDY_VERSION, type FigureSpec, type MomentAnalysis, type Row, type RunUnit, type StudyName, type StudyPlan, type Table, type Tags,
  type UnitOutcome, type UnitSpec, type PhaseUnit,
} from './study';

export interface StudyOptions {
  quick: boolean;
  /** Default: the study's own (full 42, 1, 2; quick 42). */
  seeds?: number[];
  /**
   * Shortens every unit to this many steps, its spectral windows, probes and decay branches scaled to fit: a smoke
   * test of the machinery (the tests use it), never a reproduction; the report says so.
   */
  steps?: number;
}

export const DEFAULT_SEEDS = { full: [42, 1, 2], quick: [42] } as const;

const LIFECYCLE: ExperimentName[] = ['perturb', 'curvature', 'ablate', 'probe', 'verdict'];

/** The paper's Table 1 protocol: branches of 3,000 steps at wd 0, 0.5, 1, 2 (LC). */
const PAPER_INTERVENTION_STEPS = 3000;

const SETUP_DIFFERENCES = [
  'Seeds do not map across implementations: the lab’s seeds 42, 1, 2 drive its own initialisation, split and batch streams, not the papers’.',
  'Data order and evaluation cadence differ: the grok step is only as fine as the evaluation cadence, and a window of W snapshots every N steps sees other moments than the papers’ windows.',
  'The gradient/decay split is exact (the papers used a trapezoid estimate of the decay part; docs/science.md §2.5), and the "gradient part" is Adam’s update, not the raw gradient.',
];

const range = (lo: number, hi: number): Spread => ({ kind: 'range', lo, hi });
const below = (max: number): Spread => ({ kind: 'below', max });
const DOCS_18 = 'docs/science.md §1.8 (lab, SwiftShader)';

// ---- Building units ---------------------------------------------------------------------------------------------

function runUnit(seed: number, label: string, tags: Tags, preset: PresetName, overrides: RunOverrides, analyses: MomentAnalysis[]): RunUnit {
  const id = [`s${seed}`, ...Object.entries(tags).filter(([k]) => k !== 'role').map(([k, v]) => `${k}${v}`)].join('-');
  return { kind: 'run', id, seed, label, tags, preset, overrides, analyses };
}

/**
 * Post-hoc experiments too slow for a smoke test on a task with a large test set (Dyck's 5,000 sequences, SCAN's 500
 * pairs of 49 positions): the ablation scores the whole test set 27 times, the decay branches train, the probes fit
 * ridge, kernel and MLP models on thousands of positions on the CPU. A shortened unit there leaves them out, and its
 * live probes measure the edge on their small subset instead.
 */
const SLOW_ON_LARGE_TASKS: readonly ExperimentName[] = ['ablate', 'perturb', 'curvature', 'probe', 'wd-intervention', 'verdict'];
const LARGE_TEST_SET: readonly PresetName[] = ['dyck', 'quick-dyck', 'scan', 'quick-scan'];

/**
 * A unit shortened to `steps` (StudyOptions.steps): one evaluation (at the end: on Dyck's 5,000 test sequences an
 * evaluation costs SwiftShader more than the steps), windows of its W every steps / (2 W), one live
 * probe at the end, decay branches no longer than the run, and on large test sets none of the slow experiments.
 */
function shortened(unit: UnitSpec, steps: number): UnitSpec {
  if (unit.kind === 'phase-cell') return { ...unit, plan: { ...unit.plan, steps, evalEvery: steps } };
  const config = resolveRunConfig(unit.preset, unit.seed, unit.overrides);
  const window = config.spectral.window;
  const snapshotEvery = Math.max(1, Math.floor(steps / (2 * window)));
  const overrides: RunOverrides = {
    ...unit.overrides,
    steps,
    evalEvery: steps,
    spectral: { ...unit.overrides.spectral, snapshotEvery },
    // One live probe, at the last window step.
    ...(unit.overrides.causal && { causal: { ...unit.overrides.causal, every: steps - (steps % snapshotEvery) } }),
  };
  const large = LARGE_TEST_SET.includes(unit.preset);
  const analyses = unit.analyses
    .map((a) => ({
      ...a,
      experiments: large ? a.experiments.filter((e) => !SLOW_ON_LARGE_TASKS.includes(e)) : a.experiments,
      ...(a.interventionSteps !== undefined && { interventionSteps: Math.min(a.interventionSteps, steps) }),
    }))
    .filter((a) => a.experiments.length > 0);
  return { ...unit, overrides, analyses };
}

/** Resolves every unit's run configuration, so a bad one is refused before any GPU work. */
function checkUnits(units: UnitSpec[]): void {
  const ids = new Set<string>();
  for (const u of units) {
    if (ids.has(u.id)) throw new RunConfigError(`two units share the id ${u.id}`);
    ids.add(u.id);
    if (u.kind === 'run') resolveRunConfig(u.preset, u.seed, u.overrides);
    else for (const cell of phaseDiagramCells(u.plan)) cellConfig(u.plan, cell);
  }
}

// ---- Rows shared by the studies -----------------------------------------------------------------------------------

const MAIN = { role: 'main' };
const CONTROL = { role: 'control' };

function grokRows(task: string, published: { grok?: Row['published'] }, expected?: { grok?: Spread; control?: Spread }): Row[] {
  return [
    { quantity: 'grok step (wd 1)', task, values: metric('grokStep', MAIN), ...(published.grok && { published: published.grok }), ...(expected?.grok && { expected: { value: expected.grok, source: DOCS_18 } }) },
    { quantity: 'share of runs that grok, wd 1', task, values: metric('grokked', MAIN), ...(expected ? { expected: { value: range(1, 1), source: DOCS_18 } } : { published: 'lc.grokWithDecay' }) },
    { quantity: 'share of runs that grok, wd 0', task, values: metric('grokked', CONTROL), ...(expected ? { expected: { value: expected.control ?? range(0, 0), source: DOCS_18 } } : { published: 'lc.grokWithoutDecay' }) },
  ];
}

/** The smallest train fraction with a grokking cell of `decay`, per seed (null where none grokked). */
function smallestGrokkingFraction(decay: 'l2' | 'lrd'): Row['values'] {
  return (outcomes: readonly UnitOutcome[]) => {
    const seeds = [...new Set(outcomes.map((o) => o.unit.seed))];
    return seeds.map((seed) => {
      const fractions = outcomes
        .filter((o) => o.unit.seed === seed && o.unit.tags.decay === decay && o.result.metrics.grokked === 1)
        .map((o) => o.result.metrics.trainFraction!);
      return fractions.length > 0 ? Math.min(...fractions) : null;
    });
  };
}

// ---- The studies ---------------------------------------------------------------------------------------------------

function lifecycleDyck(quick: boolean, seeds: number[]): Omit<StudyPlan, 'stepsOverride'> {
  const preset: PresetName = quick ? 'quick-dyck' : 'dyck';
  const interventionSteps = quick ? 100 : PAPER_INTERVENTION_STEPS;
  // Windows of 5 snapshots every 20 steps (first at step 100), fine enough to see before, at and after the grok.
  const overrides = (wd: number): RunOverrides => ({
    weightDecay: wd,
    spectral: { snapshotEvery: 20 },
    causal: { enabled: true, every: quick ? 100 : 200 },
  });
  const units = seeds.flatMap((seed) => [
    runUnit(seed, `seed ${seed}, wd 1`, { role: 'main', wd: '1' }, preset, overrides(1), [
      { moment: 'grok', experiments: [...LIFECYCLE, 'wd-intervention'], interventionSteps },
      { moment: 'late', experiments: LIFECYCLE },
    ]),
    runUnit(seed, `seed ${seed}, wd 0 (control)`, { role: 'control', wd: '0' }, preset, { ...overrides(0), causal: undefined }, []),
  ]);
  const task = quick ? 'quick-dyck' : 'Dyck';
  const pub = (id: Row['published']) => (quick ? {} : { published: id });
  const exp = (value: Spread, source = DOCS_18) => (quick ? { expected: { value, source } } : {});
  const spectral: Table = {
    title: 'The spectral edge over training',
    rows: [
      // Measured with this study's windows (snapshots every 20), seeds 42, 1, 2: turn 260, 280, 340; decline 49,155,
      // 36,166, 6,789 (docs/science.md §1.8).
      { quantity: 'step the edge turns decay-driven (gef(v1) < 0.5)', task, values: metric('edgeTurnStep', MAIN), ...pub('lc.dyck.grokStep'), ...exp(range(240, 360)) },
      { quantity: 'g23 decline (peak / lowest after it)', task, values: metric('g23Decline', MAIN), ...pub('lc.dyck.g23Fall'), ...exp(range(5000, 60000)) },
      { quantity: 'gradient share on v1, pre-grok', task, values: metric('gef.pre', MAIN), ...pub('lc.dyck.gefPre') },
      { quantity: 'gradient share on v1, at grok', task, values: metric('gef.grok', MAIN), ...pub('lc.dyck.gefGrok') },
      { quantity: 'gradient share on v1, late', task, values: metric('gef.late', MAIN), ...pub('lc.dyck.gefLate') },
      { quantity: 'lowest gradient share on v1', task, values: metric('gef.min', MAIN), ...exp(below(0.1)) },
      { quantity: 'v1 rotation per window (median, degrees)', task, values: metric('rotation.median', MAIN), ...pub('lc.dyck.rotation') },
      { quantity: 'g23 decline, wd 0 control', task, values: metric('g23Decline', CONTROL) },
    ],
  };
  const causal: Table = {
    title: 'Causal experiments on the grokked edge (late)',
    rows: [
      { quantity: 'edge {v1, v2} ablation Δacc', task, values: metric('late.ablate.edge', MAIN), ...pub('lc.dyck.edgeAblation') },
      { quantity: 'bulk {v3, v4} ablation Δacc', task, values: metric('late.ablate.bulk', MAIN) },
      { quantity: 'random pairs, largest |Δacc|', task, values: metric('late.ablate.randomMaxAbs', MAIN), ...pub('lc.dyck.randomAblation') },
      { quantity: 'one token flip (the ablation’s resolution)', task, values: metric('late.ablate.resolution', MAIN) },
      { quantity: 'max KL along v1, v2', task, values: metric('late.perturb.edgeMaxKl', MAIN), ...pub('lc.dyck.maxKl') },
      { quantity: 'v1ᵀHv1', task, values: metric('late.curvature.v1', MAIN), ...pub('lc.dyck.v1Hv1') },
      { quantity: 'linear probe R² (depth)', task, values: metric('late.probe.linear', MAIN), ...pub('lc.dyck.probeLinear') },
      { quantity: 'quadratic probe R²', task, values: metric('late.probe.quadratic', MAIN), ...pub('lc.dyck.probeQuadratic') },
      { quantity: 'MLP probe R²', task, values: metric('late.probe.mlp', MAIN), ...pub('lc.dyck.probeMlp') },
      { quantity: 'edge ablation Δacc at the grok', task, values: metric('grok.ablate.edge', MAIN) },
    ],
  };
  const branch = (w: string, q: 'acc' | 'r2' | 'norm', what: string): Row => ({
    quantity: `decay branch ω ${w}: ${what}`,
    task,
    values: metric(`grok.wd.${w}.${q}`, MAIN),
    ...pub(`lc.dyck.wd${w}.${q}` as Row['published']),
  });
  const intervention: Table = {
    title: `Weight-decay intervention from the grok checkpoint (${interventionSteps} steps per branch)`,
    rows: ['0', '0.5', '1', '2'].flatMap((w) => [branch(w, 'acc', 'test acc'), branch(w, 'r2', 'linear probe R²'), branch(w, 'norm', '‖θ‖')]),
  };
  return {
    name: 'lifecycle-dyck',
    quick,
    version: STUDY_VERSION,
    description: `LC’s Dyck lifecycle on the ${preset} preset: per seed a wd 1 run (analyses at the grok and at the end, the decay intervention from the grok) and a wd 0 control; windows of 5 snapshots every 20 steps; live causal probes.`,
    seeds,
    units,
    tables: [{ title: 'Grokking', rows: grokRows(task, { grok: quick ? undefined : 'lc.dyck.grokStep' }, quick ? { grok: range(150, 400), control: range(1, 1) } : undefined) }, spectral, causal, intervention],
    figures: lifecycleFigures(),
    heatmaps: [],
    differences: [
      ...SETUP_DIFFERENCES,
      'Dyck’s test accuracy is about 0.92 after 100 steps, so the lab’s grok step (first evaluation >= 0.95) comes early (step 200 on the paper preset); LC’s 600–1,400 is compared both with it and with the step the edge turns decay-driven (docs/science.md §5, item 9).',
      'LC’s learning rate for Dyck is not stated; the lab uses 1e-3, the authors’ code default.',
      'The decay branches start from the lab’s grok checkpoint (LC does not say which checkpoint Table 1 branches from).',
    ],
  };
}

function lifecycleFigures(): FigureSpec[] {
  return [
    { name: 'gradient-energy-fraction', title: 'Gradient energy fraction of v1', y: 'gef(v1)', series: 'gef1' },
    { name: 'g23', title: 'g23 = σ2² − σ3²', y: 'g23', logY: true, series: 'g23' },
    { name: 'live-ablation', title: 'Live edge ablation: Δ test accuracy when {v1, v2} is removed', y: 'Δacc', series: 'causal-edge', units: MAIN },
    { name: 'test-accuracy', title: 'Test accuracy', y: 'accuracy', series: 'testAcc' },
  ];
}

/**
 * What quick-scan's 1,000 steps reach (seed 42, SwiftShader): token accuracy plateaus near 0.75 on train and test alike
 * from step 250 on, so the run neither memorises nor groks and only the end's analyses run.
 */
function quickScanRows(task: string): Row[] {
  const measured = (value: Spread, what: string) => ({ expected: { value, source: `${DOCS_18}, seed 42: ${what}` } });
  return [
    { quantity: 'grok step (wd 1)', task, values: metric('grokStep', MAIN) },
    { quantity: 'share of runs that grok in 1,000 steps, wd 1', task, values: metric('grokked', MAIN), ...measured(range(0, 0), 'none') },
    { quantity: 'train token accuracy at the end', task, values: metric('finalTrainAcc', MAIN), ...measured(range(0.7, 0.8), '0.74-0.77 at steps 250-1,000') },
    { quantity: 'test token accuracy at the end', task, values: metric('finalTestAcc', MAIN), ...measured(range(0.7, 0.8), '0.73-0.76 at steps 250-1,000') },
  ];
}

function lifecycleScan(quick: boolean, seeds: number[]): Omit<StudyPlan, 'stepsOverride'> {
  // Quick: the quick-scan preset (1+1 layers, d 32, batch 16; docs/science.md §1.7) at its own windows and length.
  const preset: PresetName = quick ? 'quick-scan' : 'scan';
  const overrides = (wd: number): RunOverrides => ({
    weightDecay: wd,
    ...(!quick && { spectral: { snapshotEvery: 500 } }),
    ...(wd > 0 && { causal: { enabled: true, every: quick ? 200 : 500, ...(quick && { sequences: 32 }) } }),
  });
  const units = seeds.flatMap((seed) => [
    runUnit(seed, `seed ${seed}, wd 1`, { role: 'main', wd: '1' }, preset, overrides(1), [
      { moment: 'memo', experiments: ['ablate'] },
      { moment: 'grok', experiments: ['ablate', 'perturb', 'curvature', 'verdict'] },
      { moment: 'late', experiments: [...LIFECYCLE] },
    ]),
    ...(quick ? [] : [runUnit(seed, `seed ${seed}, wd 0 (control)`, { role: 'control', wd: '0' }, preset, overrides(0), [])]),
  ]);
  const task = 'SCAN';
  const pub = (id: Row['published']) => (quick ? {} : { published: id });
  return {
    name: 'lifecycle-scan',
    quick,
    version: STUDY_VERSION,
    description: quick
      ? 'The SCAN lifecycle on the quick-scan preset (1+1 layers, d 32, minibatches of 16, lr 1e-2; 1,000 steps): the analyses of the full study at whichever of memorisation, grok and end the run reaches, one seed, no control.'
      : 'LC’s SCAN lifecycle on the scan preset: per seed a wd 1 run (edge ablation in memorisation and at the grok, causal experiments late) and a wd 0 control; live causal probes.',
    seeds,
    units,
    tables: [
      { title: 'Grokking', rows: quick ? quickScanRows(task) : grokRows(task, { grok: 'lc.scan.grokStep' }) },
      {
        title: 'The spectral edge over training',
        rows: [
          { quantity: 'g23 decline (peak / lowest after it)', task, values: metric('g23Decline', MAIN), ...pub('lc.scan.g23Fall') },
          { quantity: 'gradient share on v1, pre-grok', task, values: metric('gef.pre', MAIN), ...pub('lc.scan.gefPre') },
          { quantity: 'gradient share on v1, at grok', task, values: metric('gef.grok', MAIN), ...pub('lc.scan.gefGrok') },
          { quantity: 'gradient share on v1, late', task, values: metric('gef.late', MAIN), ...pub('lc.scan.gefLate') },
          { quantity: 'v1 rotation per window (median, degrees)', task, values: metric('rotation.median', MAIN), ...pub('lc.scan.rotation') },
        ],
      },
      {
        title: 'Edge ablation',
        rows: [
          { quantity: 'edge ablation Δacc, memorisation', task, values: metric('memo.ablate.edge', MAIN), ...pub('lc.scan.edgeAblationMemo') },
          { quantity: 'edge ablation Δacc at the grok', task, values: metric('grok.ablate.edge', MAIN), ...pub('lc.scan.edgeAblationGrok') },
          { quantity: 'edge ablation Δacc, late', task, values: metric('late.ablate.edge', MAIN) },
          { quantity: 'random pairs, largest |Δacc|, late', task, values: metric('late.ablate.randomMaxAbs', MAIN) },
          { quantity: 'linear probe R² (decoder token), late', task, values: metric('late.probe.linear', MAIN) },
        ],
      },
    ],
    figures: lifecycleFigures(),
    heatmaps: [],
    differences: [
      ...SETUP_DIFFERENCES,
      quick
        ? 'Quick: the quick-scan preset, a 1+1-layer encoder-decoder of width 32 (24,521 parameters against the paper model’s 3.98M) at lr 1e-2 and minibatches of 16, 1,000 steps; LC’s values are for the 3+3-layer paper model and are not compared. The grok metric is teacher-forced test sequence accuracy.'
        : 'LC’s learning rate for SCAN is not stated; the lab uses 1e-4, the authors’ code default. The grok metric is teacher-forced test sequence accuracy.',
      'Accuracy is token accuracy on the fixed 500 test pairs; "memorisation" is the first evaluation with train accuracy >= 0.99 before the grok.',
    ],
  };
}

const MOD_OPS_FULL = ['add', 'sub', 'mul', 'x2y2'] as const;

function modesModarith(quick: boolean, seeds: number[]): Omit<StudyPlan, 'stepsOverride'> {
  const preset: PresetName = quick ? 'quick-add' : 'modarith';
  const ops: readonly string[] = quick ? ['add', 'mul'] : MOD_OPS_FULL;
  // FM's functional-mode windows: W = 20, centred (FM §2.3); the quick preset keeps its own W = 10.
  const spectral = quick ? undefined : { window: 20, centred: true };
  const overrides = (op: string, wd: number): RunOverrides => ({ op: op as RunOverrides['op'], weightDecay: wd, ...(spectral && { spectral }) });
  const units = seeds.flatMap((seed) =>
    ops.flatMap((op) => [
      runUnit(seed, `seed ${seed}, ${op}, wd 1`, { role: 'main', op, wd: '1' }, preset, overrides(op, 1), [
        { moment: 'grok', experiments: ['fourier'] },
        { moment: 'late', experiments: ['fourier'] },
      ]),
      ...(quick && op !== 'add' ? [] : [runUnit(seed, `seed ${seed}, ${op}, wd 0 (control)`, { role: 'control', op, wd: '0' }, preset, overrides(op, 0), [])]),
    ]),
  );
  const task = quick ? 'quick-add (p 31)' : 'mod-97';
  const pub = (id: Row['published']) => (quick ? {} : { published: id });
  const per = (op: string, key: string) => metric(key, { role: 'main', op });
  const grokTable: Table = {
    title: 'Grokking and the g23 decline',
    rows: [
      ...ops.map((op): Row => ({ quantity: `grok step, ${op} (wd 1)`, task, values: per(op, 'grokStep'), ...(quick && op === 'add' && { expected: { value: range(440, 650), source: DOCS_18 } }) })),
      { quantity: 'share of runs that grok, wd 1', task, values: metric('grokked', MAIN), ...(quick ? {} : { published: 'lc.grokWithDecay' }) },
      { quantity: 'share of runs that grok, wd 0', task, values: metric('grokked', CONTROL), ...(quick ? { expected: { value: range(0, 0), source: DOCS_18 } } : { published: 'lc.grokWithoutDecay' }) },
      { quantity: 'g23 decline, wd 1 runs', task, values: metric('g23Decline', MAIN), ...pub('fm.g23Decline') },
      { quantity: 'g23 decline, wd 0 controls', task, values: metric('g23Decline', CONTROL), ...pub('fm.g23DeclineControl') },
    ],
  };
  const modesRows: Row[] = [
    { quantity: 'add: F(v1), additive basis', task, values: per('add', 'late.fourier.add.v1.F'), ...pub('fm.add.F1') },
    { quantity: 'add: F(v3), additive basis', task, values: per('add', 'late.fourier.add.v3.F'), ...pub('fm.add.F3') },
    { quantity: 'add: peak frequency of v1', task, values: per('add', 'late.fourier.add.v1.peak'), ...pub('fm.add.peak') },
    { quantity: 'add: permutation null of F(v1)', task, values: per('add', 'late.fourier.add.v1.null') },
    { quantity: 'add: best random direction’s F', task, values: per('add', 'late.fourier.add.randomMax.F') },
    { quantity: 'mul: F(v1), discrete-log basis', task, values: per('mul', 'late.fourier.mulLog.v1.F'), ...pub('fm.mul.F1') },
    { quantity: 'mul: peak frequency of v1, discrete-log', task, values: per('mul', 'late.fourier.mulLog.v1.peak'), ...pub('fm.mul.peak') },
    { quantity: 'mul: F(v1), discrete-log, at the grok', task, values: per('mul', 'grok.fourier.mulLog.v1.F') },
    { quantity: 'mul: permutation null of F(v1), discrete-log', task, values: per('mul', 'late.fourier.mulLog.v1.null') },
    ...(ops.includes('sub') ? [{ quantity: 'sub: F(v1), subtractive basis', task, values: per('sub', 'late.fourier.sub.v1.F'), ...pub('fm.sub.F1') } satisfies Row] : []),
  ];
  return {
    name: 'modes-modarith',
    quick,
    version: STUDY_VERSION,
    description: `FM’s functional modes on the ${preset} preset: ops ${ops.join(', ')} per seed with wd 1 (functional modes at the grok and at the end) and wd 0 controls${quick ? ' (add only)' : ''}.`,
    seeds,
    units,
    tables: [grokTable, { title: 'Functional modes of the late edge (pairs a ≠ b)', rows: modesRows }],
    figures: [
      { name: 'g23', title: 'g23 = σ2² − σ3²', y: 'g23', logY: true, series: 'g23' },
      { name: 'gradient-energy-fraction', title: 'Gradient energy fraction of v1', y: 'gef(v1)', series: 'gef1' },
      { name: 'test-accuracy', title: 'Test accuracy', y: 'accuracy', series: 'testAcc' },
    ],
    heatmaps: [],
    differences: [
      ...SETUP_DIFFERENCES,
      quick
        ? 'Quick: p = 31, one layer, d 64, train fraction 0.6, full batch, W = 10 uncentred; FM’s values are for mod 97 and are not compared.'
        : 'Windows follow FM (W = 20, centred); the functional-mode spectra are over the held-out pairs a ≠ b, with a permutation null (docs/science.md §3.7), which FM did not report.',
      'FM’s exact moment for Table 2 is not stated; the lab reports the edge at the end of the run (and at the grok for mul).',
    ],
  };
}

function modesMultitask(quick: boolean, seeds: number[]): Omit<StudyPlan, 'stepsOverride'> {
  const preset: PresetName = quick ? 'quick-multitask' : 'multitask';
  // FM's tri-task heads grok at 17.9k-30.5k steps: the full study trains past that.
  const units = seeds.map((seed) =>
    runUnit(seed, `seed ${seed}, wd 1`, { role: 'main' }, preset, quick ? {} : { steps: 35_000 }, [{ moment: 'late', experiments: ['fourier'] }]),
  );
  const task = quick ? 'quick-multitask (p 31)' : 'multitask mod-97';
  const head = (op: string, published?: Row['published']): Row => ({
    quantity: `grok step, ${op} head`,
    task,
    values: metric(`grokStep.${op}`, MAIN),
    ...(quick ? { expected: { value: range(700, 1300), source: `${DOCS_18}, seed 1: 780-1,140` } } : published ? { published } : {}),
  });
  return {
    name: 'modes-multitask',
    quick,
    version: STUDY_VERSION,
    description: `The multitask preset (${preset}): each head’s grok step and the functional modes of the shared edge at the end.`,
    seeds,
    units,
    tables: [
      { title: 'Grok step per head', rows: [head('add', 'fm.tri.grokAdd'), head('sub'), head('mul', 'fm.tri.grokMul'), head('x2y2', 'fm.tri.grokX2y2'), { quantity: 'grok step, every head', task, values: metric('grokStep', MAIN) }] },
      {
        title: 'Functional modes of the late edge (shared trunk, pairs a ≠ b)',
        rows: [
          { quantity: 'F(v1), additive basis', task, values: metric('late.fourier.add.v1.F', MAIN) },
          { quantity: 'F(v1), discrete-log basis', task, values: metric('late.fourier.mulLog.v1.F', MAIN) },
          { quantity: 'F(v1), subtractive basis', task, values: metric('late.fourier.sub.v1.F', MAIN) },
          { quantity: 'best random direction’s F, additive', task, values: metric('late.fourier.add.randomMax.F', MAIN) },
        ],
      },
    ],
    figures: [
      { name: 'test-accuracy', title: 'Test accuracy (mean over heads)', y: 'accuracy', series: 'testAcc' },
      { name: 'gradient-energy-fraction', title: 'Gradient energy fraction of v1', y: 'gef(v1)', series: 'gef1' },
    ],
    heatmaps: [],
    differences: [
      ...SETUP_DIFFERENCES,
      'FM’s tri-task model has three heads (add, mul, x²+y²); the lab’s multitask preset has four (add, sub, mul, x²+y²) on pairs 1..p−1, so its head grok steps are compared with FM’s as a different setup.',
      'FM’s x²+y² R² (combined and cross features) has no counterpart in the lab yet and is not reported.',
    ],
  };
}

/** The modulus of LRD's phase diagram (PUBLISHED.md: its figure and README are at p = 113). */
const LRD_MODULUS = 113;

function lrdPhase(quick: boolean, seeds: number[]): Omit<StudyPlan, 'stepsOverride'> {
  const preset: PresetName = quick ? 'quick-add' : 'modarith';
  const fractions = quick ? [0.45, 0.6] : [0.3, 0.4, 0.5, 0.6, 0.7];
  const l2 = quick ? [1] : [0.3, 1, 3];
  const lrd = quick ? [0.03] : [0.003, 0.01, 0.03];
  // LRD's task and scale-invariant model in the full study (p = 113, RMSNorm, QK-norm); the quick study keeps
  // quick-add's (p = 31, LayerNorm) so that it compares with the cells measured in the README.
  const overrides: PhaseOverrides | undefined = quick ? undefined : { p: LRD_MODULUS, norm: 'rms', qkNorm: true };
  const steps = quick ? 600 : 10_000;
  const units: PhaseUnit[] = seeds.flatMap((seed) =>
    (['l2', 'lrd'] as const).flatMap((decay) =>
      fractions.flatMap((f) =>
        (decay === 'l2' ? l2 : lrd).map((s): PhaseUnit => {
          const plan: PhaseDiagramPlan = {
            preset, seed, steps, evalEvery: quick ? 20 : 100, trainFractions: [f], l2: decay === 'l2' ? [s] : [], lrd: decay === 'lrd' ? [s] : [], earlyStop: null,
            ...(overrides && { overrides }),
          };
          return { kind: 'phase-cell', id: `s${seed}-${decay}${s}-f${f}`, seed, label: `seed ${seed}, ${decay === 'l2' ? `L2 wd ${s}` : `LRD rate ${s}`}, fraction ${f}`, tags: { decay, strength: String(s), fraction: String(f) }, plan };
        }),
      ),
    ),
  );
  const task = quick ? 'quick-add (p 31)' : `mod-${LRD_MODULUS} (RMSNorm, QK-norm)`;
  const readme = 'README "Phase diagram" (lab, SwiftShader, seed 42)';
  // The same cell traced every 20 steps to step 600 (README "Phase diagram").
  const trace = 'lab trace of this cell at step 600 (SwiftShader)';
  const fraction = quick ? '0.6' : '0.5';
  const lrdTags = { decay: 'lrd', strength: quick ? '0.03' : '0.01', fraction };
  const l2Tags = { decay: 'l2', strength: '1', fraction };
  const lrdCell = `LRD rate ${lrdTags.strength}, fraction ${fraction}`;
  const l2Cell = `L2 wd 1, fraction ${fraction}`;
  return {
    name: 'lrd-phase',
    quick,
    version: STUDY_VERSION,
    description: `LRD’s phase diagram on ${preset}${quick ? '' : ` at p = ${LRD_MODULUS} with RMSNorm and QK-norm`}: train fractions ${fractions.join(', ')} x L2 wd ${l2.join(', ')} and Low-Rank Decay rates ${lrd.join(', ')}, ${steps} steps a cell.`,
    seeds,
    units,
    tables: [
      {
        title: 'Smallest train fraction that groks',
        rows: [
          { quantity: 'smallest fraction that groks, Low-Rank Decay', task, values: smallestGrokkingFraction('lrd'), ...(quick ? { expected: { value: range(0.6, 0.6), source: readme } } : { published: 'lrd.minFractionLrd' }) },
          { quantity: 'smallest fraction that groks, L2', task, values: smallestGrokkingFraction('l2'), ...(quick ? {} : { published: 'lrd.minFractionL2' }) },
        ],
      },
      {
        title: 'W_Q and W_K at the end of the cell (mean over modules)',
        rows: [
          { quantity: `W_Q stable rank, ${lrdCell}`, task, values: metric('stableRankQ', lrdTags), ...(quick ? { expected: { value: range(55, 64), source: `${trace}: 63.2, W_Q at LRD’s floor (all 64 singular values 0.011); 1.05 at the early stop, step 400` } } : { published: 'lrd.srankLrd' }) },
          { quantity: `W_K stable rank, ${lrdCell}`, task, values: metric('stableRankK', lrdTags), ...(quick ? { expected: { value: range(1, 1.5), source: `${trace}: 1.00; ${readme}: 1.25 at the early stop, step 400` } } : { published: 'lrd.srankLrd' }) },
          { quantity: `W_Q Frobenius norm, ${lrdCell}`, task, values: metric('normQ', lrdTags), ...(quick && { expected: { value: range(0, 0.2), source: `${trace}: 0.090 (3.67 at the grok, step 320)` } }) },
          { quantity: `W_K Frobenius norm, ${lrdCell}`, task, values: metric('normK', lrdTags) },
          { quantity: `W_Q stable rank, ${l2Cell}`, task, values: metric('stableRankQ', l2Tags), ...(quick ? {} : { published: 'lrd.srankL2' }) },
          { quantity: `W_K stable rank, ${l2Cell}`, task, values: metric('stableRankK', l2Tags), ...(quick ? {} : { published: 'lrd.srankL2' }) },
          { quantity: `max test accuracy, L2 wd 1, fraction 0.6`, task, values: metric('maxTestAcc', { decay: 'l2', strength: '1', fraction: '0.6' }), ...(quick && { expected: { value: range(0.85, 0.99), source: `${readme}: 0.917` } }) },
        ],
      },
    ],
    figures: [],
    heatmaps: [
      { name: 'phase-l2', title: 'Max test accuracy, L2 (fraction x weight decay)', decay: 'l2' },
      { name: 'phase-lrd', title: 'Max test accuracy, Low-Rank Decay (fraction x rate)', decay: 'lrd' },
    ],
    differences: [
      ...SETUP_DIFFERENCES.slice(0, 1),
      quick
        ? 'Quick: quick-add (p = 31, LayerNorm), 600 steps a cell; LRD’s values are for p = 113 and are not compared.'
        : `The modarith preset at LRD’s modulus, p = ${LRD_MODULUS} (the preset’s own is 97), with LRD’s scale-invariant architecture (RMSNorm, QK-norm); the rest of the model and optimiser is the preset’s.`,
      'LRD’s values come from its repository’s figure and README (R/F), not from the paper’s text; a related study at p = 97 found no consistent advantage of LRD over L2.',
      'LRD’s “Q/K stable rank” is one value; the lab gives W_Q and W_K apart, each against it. The rate is absolute, so a matrix the task can do without is shrunk to a floor (each step overshoots zero: every singular value near rate × 0.77 / 2, a flat spectrum) whose stable rank is near d: read a high stable rank with its Frobenius norm.',
    ],
  };
}

const BUILDERS: Record<StudyName, (quick: boolean, seeds: number[]) => Omit<StudyPlan, 'stepsOverride'>> = {
  'lifecycle-dyck': lifecycleDyck,
  'lifecycle-scan': lifecycleScan,
  'modes-modarith': modesModarith,
  'modes-multitask': modesMultitask,
  'lrd-phase': lrdPhase,
};

/** The plan of a study; throws RunConfigError (before any GPU work) for seeds or steps that make a bad unit. */
export function buildStudy(name: StudyName, options: StudyOptions): StudyPlan {
  const seeds = options.seeds ?? [...(options.quick ? DEFAULT_SEEDS.quick : DEFAULT_SEEDS.full)];
  if (seeds.length === 0) throw new RunConfigError('the seed list is empty');
  if (new Set(seeds).size !== seeds.length) throw new RunConfigError(`the seed list names a seed twice: ${seeds.join(',')}`);
  if (options.steps !== undefined && !(Number.isInteger(options.steps) && options.steps >= 8)) throw new RunConfigError(`steps must be an integer >= 8, got ${options.steps}`);
  const plan = BUILDERS[name](options.quick, seeds);
  const units = options.steps === undefined ? plan.units : plan.units.map((u) => shortened(u, options.steps!));
  checkUnits(units);
  return { ...plan, units, stepsOverride: options.steps ?? null };
}
