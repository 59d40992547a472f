// Terminal progress for training runs, fed by the trainer's callbacks: on a TTY one line redrawn in place (bar,
// step, losses, accuracies, ETA); otherwise (a pipe, a CI log) one plain line per evaluation.
import type { TrainerProgress } from '../train/trainer';
import type { RunEvent } from '../formats/metrics';

/** 42s, 3m05s, 1h02m. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Time left at the rate of the steps taken so far in this call (unknown before the first). */
export function eta(p: TrainerProgress): string {
  if (p.stepsThisCall <= 0) return '?';
  return formatDuration((p.elapsedMs / p.stepsThisCall) * (p.totalSteps - p.point.step));
}

export function progressLine(p: TrainerProgress, barWidth = 20): string {
  const { point, totalSteps } = p;
  const filled = Math.round((barWidth * point.step) / totalSteps);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]`;
  const f = (x: number) => x.toFixed(4);
  return (
    `${bar} ${point.step}/${totalSteps}  batch loss ${f(point.batchLoss)}  ` +
    `train loss ${f(point.trainLoss)} acc ${point.trainAcc.toFixed(3)}  test loss ${f(point.testLoss)} acc ${point.testAcc.toFixed(3)} seq ${point.testSeqAcc.toFixed(3)}  ` +
    `${edgeSummary(p)}${causalSummary(p)}ETA ${eta(p)}`
  );
}

/**
 * "ablate edge -0.412 bulk -0.004 rand<=0.008 (±0.004) KL v1 2e-1 rand 3e-3 v1Hv1 4.1 functional  " from the latest
 * live causal record (step it was taken at in brackets when older than the evaluation), or nothing.
 */
function causalSummary(p: TrainerProgress): string {
  const c = p.causal;
  if (!c) return '';
  const { ablation: a, perturbation: q } = c;
  const maxKl = (curves: { kl: number[] }[]) => Math.max(...curves.flatMap((x) => x.kl));
  const at = c.step === p.point.step ? '' : ` @${c.step}`;
  return (
    `ablate${at} edge ${a.edge.deltaAccuracy.toFixed(3)} bulk ${a.bulk ? a.bulk.deltaAccuracy.toFixed(3) : '-'} rand<=${a.randomMaxAbsDelta.toFixed(3)} (±${c.resolution.toPrecision(1)})  ` +
    `KL v1 ${maxKl(q.edge.slice(0, 1)).toExponential(0)} rand ${maxKl(q.random).toExponential(0)}  v1Hv1 ${c.curvature.v1.toPrecision(2)}  ${c.verdict.class}  `
  );
}

/**
 * "edge g23 1.2e-3 k* 1 gef(v1) 0.91  " (and "dg/dt 1e-5 vs 2e-5  ", predicted vs observed; "srank Q 21.3/18.0 K 9.1/7.4  ",
 * the stable ranks of each layer's W_Q and W_K) from the latest spectral record, or nothing.
 */
function edgeSummary(p: TrainerProgress): string {
  const e = p.edge;
  if (!e) return '';
  const flow = e.gapFlow ? `dg/dt ${e.gapFlow.predicted.toExponential(0)} vs ${e.gapFlow.observed?.toExponential(0) ?? '-'}  ` : '';
  const ranks = (r: number[]) => r.map((x) => x.toFixed(1)).join('/');
  const srank = e.stableRank ? `srank Q ${ranks(e.stableRank.q)} K ${ranks(e.stableRank.k)}  ` : '';
  return `edge g23 ${e.g23 === null ? '-' : e.g23.toExponential(1)} k* ${e.kStar ?? '-'} gef(v1) ${e.gradEnergyFraction[0].toFixed(2)}  ${flow}${srank}`;
}

export function describeEvent(e: RunEvent): string {
  switch (e.type) {
    case 'grok':
      return `step ${e.step}: grokked (${e.metric === 'testSeqAcc' ? 'test sequence accuracy' : 'test accuracy'} ${e.value.toFixed(3)})`;
    case 'hyper':
      return `step ${e.step}: lr ${e.before.lr} -> ${e.after.lr}, weight decay ${e.before.weightDecay} -> ${e.after.weightDecay}`;
    case 'divergence':
      return e.message;
  }
}

/** The part of a Node write stream the printer uses (so tests can pass a fake). */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

export class ProgressPrinter {
  private lineOpen = false;

  constructor(private readonly out: ProgressStream) {}

  update(p: TrainerProgress): void {
    this.status(progressLine(p));
  }

  /** A status line: redrawn in place on a TTY, one plain line each otherwise. */
  status(line: string): void {
    if (this.out.isTTY) {
      // Carriage return, the line, then erase whatever a longer previous line left to its right.
      this.out.write(`\r${line}\x1b[K`);
      this.lineOpen = true;
    } else {
      this.out.write(`${line}\n`);
    }
  }

  /** A message on its own line (the progress line, if any, is redrawn at the next update). */
  message(text: string): void {
    this.endLine();
    this.out.write(`${text}\n`);
  }

  event(e: RunEvent): void {
    this.message(describeEvent(e));
  }

  /** Leaves the TTY progress line in place and moves below it. */
  endLine(): void {
    if (this.lineOpen) this.out.write('\n');
    this.lineOpen = false;
  }
}
