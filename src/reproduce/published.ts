// The papers' published values the reproduction studies compare with (docs/science.md §6.2, from the table the
// project keeps of them with their sources), each with its paper's arXiv id, the section, table or figure it comes
// from, how it is known (C stated in the text, R from the authors' repository or code only, F read off a figure,
// A abstract only; R and F are approximate) and the spread the paper states (src/reproduce/compare.ts).
import type { Spread } from './compare';

export type Paper = 'LC' | 'FM' | 'TH' | 'LRD';

export const PAPERS: Record<Paper, { arxiv: string; title: string }> = {
  TH: { arxiv: '2603.28964', title: 'The Spectral Edge Thesis' },
  LC: { arxiv: '2604.07380', title: 'The Lifecycle of the Spectral Edge: From Gradient Learning to Weight-Decay Compression' },
  FM: { arxiv: '2604.06256', title: 'Spectral Edge Dynamics Reveal Functional Modes of Learning' },
  LRD: { arxiv: '2606.04405', title: 'Low-Rank Decay for Grokking in Scale-Invariant Transformers: A Spectral-Geometric View' },
};

export interface PublishedValue {
  quantity: string;
  task: string;
  value: Spread;
  paper: Paper;
  /** Section, table or figure. */
  where: string;
  status: 'C' | 'R' | 'F' | 'A' | 'C/R' | 'R/F';
  note?: string;
}

const range = (lo: number, hi: number): Spread => ({ kind: 'range', lo, hi });
const meanSd = (mean: number, sd: number): Spread => ({ kind: 'mean-sd', mean, sd });
const point = (value: number): Spread => ({ kind: 'point', value });
const below = (max: number): Spread => ({ kind: 'below', max });

export const PUBLISHED = {
  // ---- Lifecycle (LC): Dyck and SCAN -------------------------------------------------------------------------
  'lc.dyck.grokStep': { quantity: 'grok step (wd 1)', task: 'Dyck', value: range(600, 1400), paper: 'LC', where: '§2.1', status: 'C' },
  'lc.scan.grokStep': { quantity: 'grok step (wd 1)', task: 'SCAN', value: range(2500, 4000), paper: 'LC', where: '§2.1', status: 'C' },
  'lc.grokWithDecay': { quantity: 'share of runs that grok with wd', task: 'all', value: point(1), paper: 'LC', where: '24/24 runs; TH abstract', status: 'C' },
  'lc.grokWithoutDecay': { quantity: 'share of runs that grok with wd 0', task: 'all', value: point(0), paper: 'LC', where: '0/24 runs; TH abstract', status: 'C' },
  'lc.dyck.g23Fall': { quantity: 'g23 compression at grokking', task: 'Dyck', value: range(4.5, 48), paper: 'LC', where: '§2.2 (33x); per-run range from the replication note', status: 'C/R' },
  'lc.scan.g23Fall': { quantity: 'g23 compression at grokking', task: 'SCAN', value: range(31, 50), paper: 'LC', where: '§2.2 (43x); per-run range from the replication note', status: 'C/R' },
  'lc.dyck.gefPre': { quantity: 'gradient share on v1, pre-grok', task: 'Dyck', value: point(0.976), paper: 'LC', where: '§3.2', status: 'C' },
  'lc.dyck.gefGrok': { quantity: 'gradient share on v1, at grok', task: 'Dyck', value: point(0.053), paper: 'LC', where: '§3.2', status: 'C' },
  'lc.dyck.gefLate': { quantity: 'gradient share on v1, late', task: 'Dyck', value: point(0.87), paper: 'LC', where: 'Tab. 2', status: 'C' },
  'lc.scan.gefPre': { quantity: 'gradient share on v1, pre-grok', task: 'SCAN', value: point(0.887), paper: 'LC', where: '§3.2', status: 'C' },
  'lc.scan.gefGrok': { quantity: 'gradient share on v1, at grok', task: 'SCAN', value: point(0.002), paper: 'LC', where: '§3.2', status: 'C' },
  'lc.scan.gefLate': { quantity: 'gradient share on v1, late', task: 'SCAN', value: point(0.02), paper: 'LC', where: 'Tab. 2', status: 'C' },
  'lc.dyck.rotation': { quantity: 'v1 rotation per window (degrees)', task: 'Dyck', value: point(17.8), paper: 'LC', where: '§2 (18°)', status: 'C' },
  'lc.scan.rotation': { quantity: 'v1 rotation per window (degrees)', task: 'SCAN', value: point(7.7), paper: 'LC', where: '§2 (8°)', status: 'C' },
  'lc.dyck.edgeAblation': { quantity: 'edge {v1, v2} ablation Δacc', task: 'Dyck, 3 seeds', value: meanSd(-0.58, 0.09), paper: 'LC', where: '§8', status: 'C' },
  'lc.dyck.randomAblation': { quantity: 'random 2-direction ablation |Δacc|', task: 'Dyck', value: below(1e-4), paper: 'LC', where: '§4.1 (20 trials per phase)', status: 'C', note: 'the lab’s floor is one token flip of its test set' },
  'lc.scan.edgeAblationGrok': { quantity: 'edge ablation Δacc at grok', task: 'SCAN', value: point(-0.49), paper: 'LC', where: '§8', status: 'C' },
  'lc.scan.edgeAblationMemo': { quantity: 'edge ablation Δacc, memorisation', task: 'SCAN', value: point(-0.03), paper: 'LC', where: '§8', status: 'C' },
  'lc.dyck.maxKl': { quantity: 'max KL along the edge', task: 'Dyck, grokked', value: point(5e-5), paper: 'LC', where: '§4.2', status: 'C' },
  'lc.dyck.v1Hv1': { quantity: 'v1ᵀHv1', task: 'Dyck, grokked', value: point(0.078), paper: 'LC', where: '§4.2', status: 'C' },
  'lc.dyck.probeLinear': { quantity: 'linear probe R², late', task: 'Dyck, 3 seeds', value: meanSd(0.86, 0.01), paper: 'LC', where: '§5', status: 'C' },
  'lc.dyck.probeQuadratic': { quantity: 'quadratic probe R², late', task: 'Dyck layer 1', value: point(0.591), paper: 'LC', where: 'Fig. 5', status: 'C/R' },
  'lc.dyck.probeMlp': { quantity: 'MLP probe R², late', task: 'Dyck, 3 seeds', value: meanSd(0.99, 0.003), paper: 'LC', where: '§5', status: 'C' },
  'lc.dyck.wd0.acc': { quantity: 'decay branch ω 0: test acc', task: 'Dyck', value: point(0.973), paper: 'LC', where: 'Tab. 1', status: 'C' },
  'lc.dyck.wd0.5.acc': { quantity: 'decay branch ω 0.5: test acc', task: 'Dyck', value: point(0.972), paper: 'LC', where: 'Tab. 1', status: 'C' },
  'lc.dyck.wd1.acc': { quantity: 'decay branch ω 1: test acc', task: 'Dyck', value: point(0.982), paper: 'LC', where: 'Tab. 1', status: 'C' },
  'lc.dyck.wd2.acc': { quantity: 'decay branch ω 2: test acc', task: 'Dyck', value: point(0.985), paper: 'LC', where: 'Tab. 1', status: 'C' },
  'lc.dyck.wd0.r2': { quantity: 'decay branch ω 0: probe R²', task: 'Dyck', value: point(0.987), paper: 'LC', where: 'Tab. 1', status: 'C' },
  'lc.dyck.wd0.5.r2': { quantity: 'decay branch ω 0.5: probe R²', task: 'Dyck', value: point(0.898), paper: 'LC', where: 'Tab. 1', status: 'C' },
  'lc.dyck.wd1.r2': { quantity: 'decay branch ω 1: probe R²', task: 'Dyck', value: point(0.851), paper: 'LC', where: 'Tab. 1', status: 'C' },
  'lc.dyck.wd2.r2': { quantity: 'decay branch ω 2: probe R²', task: 'Dyck', value: point(0.709), paper: 'LC', where: 'Tab. 1', status: 'C' },
  'lc.dyck.wd0.norm': { quantity: 'decay branch ω 0: ‖θ‖', task: 'Dyck', value: point(40.4), paper: 'LC', where: 'Tab. 1', status: 'C' },
  'lc.dyck.wd0.5.norm': { quantity: 'decay branch ω 0.5: ‖θ‖', task: 'Dyck', value: point(17.7), paper: 'LC', where: 'Tab. 1', status: 'C' },
  'lc.dyck.wd1.norm': { quantity: 'decay branch ω 1: ‖θ‖', task: 'Dyck', value: point(15.3), paper: 'LC', where: 'Tab. 1', status: 'C' },
  'lc.dyck.wd2.norm': { quantity: 'decay branch ω 2: ‖θ‖', task: 'Dyck', value: point(14.3), paper: 'LC', where: 'Tab. 1', status: 'C' },
  // ---- Functional modes (FM): modular arithmetic -------------------------------------------------------------
  'fm.g23Decline': { quantity: 'g23 decline, grokking runs', task: 'mod-97', value: range(15, 110), paper: 'FM', where: 'Tab. 1 (12/12 runs, mean 40x)', status: 'C' },
  'fm.g23DeclineControl': { quantity: 'g23 decline, wd 0 controls', task: 'mod-97', value: point(1.2), paper: 'FM', where: 'Tab. 1 (0/12 runs decline)', status: 'C' },
  'fm.add.peak': { quantity: 'add: peak frequency of the edge', task: 'mod-97 add', value: range(25, 26), paper: 'FM', where: 'Tab. 2', status: 'C' },
  'fm.add.F1': { quantity: 'add: F(v1), additive basis', task: 'mod-97 add', value: point(0.33), paper: 'FM', where: 'Tab. 2', status: 'C' },
  'fm.add.F3': { quantity: 'add: F(v3), additive basis', task: 'mod-97 add', value: point(0.4), paper: 'FM', where: 'Tab. 2', status: 'C' },
  'fm.mul.peak': { quantity: 'mul: peak frequency, discrete-log basis', task: 'mod-97 mul', value: point(29), paper: 'FM', where: '§6.3', status: 'C' },
  'fm.mul.F1': { quantity: 'mul: F(v1), discrete-log basis', task: 'mod-97 mul', value: point(0.32), paper: 'FM', where: '§6.3', status: 'C' },
  'fm.sub.F1': { quantity: 'sub: F of the edge (= bulk)', task: 'mod-97 sub', value: point(0.16), paper: 'FM', where: '§6.4', status: 'C' },
  'fm.tri.grokAdd': { quantity: 'multitask grok step, add head', task: 'tri-task mod-97', value: point(17_900), paper: 'FM', where: '§2.2', status: 'C' },
  'fm.tri.grokMul': { quantity: 'multitask grok step, mul head', task: 'tri-task mod-97', value: point(24_800), paper: 'FM', where: '§2.2', status: 'C' },
  'fm.tri.grokX2y2': { quantity: 'multitask grok step, x²+y² head', task: 'tri-task mod-97', value: point(30_500), paper: 'FM', where: '§2.2', status: 'C' },
  // ---- Low-Rank Decay (LRD) ----------------------------------------------------------------------------------
  'lrd.minFractionLrd': { quantity: 'smallest train fraction that groks, LRD', task: 'p = 113', value: point(0.4), paper: 'LRD', where: 'repository figure / README', status: 'R/F', note: 'not confirmed in the paper' },
  'lrd.minFractionL2': { quantity: 'smallest train fraction that groks, L2', task: 'p = 113', value: point(0.5), paper: 'LRD', where: 'repository figure / README', status: 'R/F', note: 'not confirmed in the paper' },
  'lrd.srankLrd': { quantity: 'final Q/K stable rank, LRD', task: 'p = 113, fraction 0.5', value: range(1, 1.5), paper: 'LRD', where: 'repository figure', status: 'R/F' },
  'lrd.srankL2': { quantity: 'final Q/K stable rank, L2', task: 'p = 113, fraction 0.5', value: point(25), paper: 'LRD', where: 'repository figure', status: 'R/F' },
} satisfies Record<string, PublishedValue>;

export type PublishedId = keyof typeof PUBLISHED;

/** "LC (arXiv 2604.07380) §3.2, C". */
export function sourceOf(v: PublishedValue): string {
  return `${v.paper} (arXiv ${PAPERS[v.paper].arxiv}) ${v.where}, ${v.status}`;
}
