// Matrix-free Lanczos for the top-k eigenpairs of a symmetric operator given only as y = A x on the GPU
// (the update window's X^T X for large windows, the loss Hessian through Hessian-vector products; docs/science.md §2, §3).
//
// The method is band Lanczos (Ruhe's variant of block Lanczos, one vector at a time) with full
// reorthogonalisation: start from `blockSize` seeded random orthonormal vectors q_0 .. q_{b-1}; the c-th
// operator application computes w = A q_c, orthogonalises it against every basis vector so far, twice
// (classical Gram-Schmidt, the coefficients of both passes summed), and normalises it into q_{c+b}. The
// coefficients fill H = Q^T A Q (banded, symmetric up to rounding); after n applications the Ritz pairs are the
// eigenpairs (theta, s) of the symmetrised n x n leading block, solved on the CPU in float64, and the Ritz vector
// y = Q s is formed on the GPU. With blockSize 1 this is plain Lanczos; a block of b start vectors also finds
// eigenvalues of multiplicity up to b, which single-vector Lanczos cannot separate in exact arithmetic (a
// near-degenerate pair such as sigma_2 ~ sigma_3 is seen as one value until rounding noise brings the other in,
// and no residual shows that it is missing).
//
// Residuals reported per pair:
//   residualBound: ||A Q_n s - theta Q_n s|| = ||H[n : n + b, 0 : n] s||, exact in exact arithmetic while the basis
//                  is orthonormal (the standard beta_m |s_m| bound, in block form). It drives convergence: stop when
//                  every wanted pair's bound is <= tolerance * max |theta|.
//   residual:      ||A y - theta y|| measured by applying the operator to the Ritz vector once more (optional), so
//                  it includes the float32 error of the operator itself.
// A breakdown (w inside the basis to float32 accuracy: an invariant subspace, e.g. X^T X of rank W) continues with
// a fresh random vector orthogonal to the basis, whose coupling to A q_c is 0 by construction.
//
// Every dot product and norm is read back as per-part partial sums and added in float64 (DESIGN.md); so each
// application costs three short round trips (two projection passes and the norm).
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { at, type GpuRuntime, type TensorRef } from '../gpu/runtime';
import { Rng } from '../util/random';
import { NonFiniteError } from '../util/non-finite';
import { combineCall, dotsCall, partsFor, scheduleSums, VectorOp } from './vector-ops';

/** A symmetric linear operator on vectors of `size` floats, applied on the GPU. */
export interface GpuOperator {
  readonly size: number;
  /**
   * y <- A x (x and y must not overlap). Either records the work into `encoder` and returns it, or (an operator
   * that must see results on the CPU first) submits `encoder` with what it added, waits, and resolves to a fresh
   * encoder. Either way the caller continues recording into, and finally submits, the encoder it gets back.
   */
  apply(encoder: GPUCommandEncoder, x: TensorRef, y: TensorRef): GPUCommandEncoder | Promise<GPUCommandEncoder>;
}

export interface LanczosOptions {
  /** How many of the algebraically largest eigenpairs to find. */
  k: number;
  /** Most operator applications (the Krylov dimension); default min(size - blockSize, 100). */
  maxIterations?: number;
  /**
   * Random start vectors: eigenvalues of multiplicity (or near-degeneracy) up to this are found. Default min(k, 2),
   * which covers a near-degenerate pair (sigma_2 ~ sigma_3 at the edge); the cost grows with the square of the basis
   * size, so larger blocks are slower. Plain Lanczos (1) finds a second copy only through rounding noise.
   */
  blockSize?: number;
}

export interface SolveOptions {
  /** Converged when every wanted pair's residual bound <= tolerance * max |theta|. Default 1e-5. */
  tolerance?: number;
  /** Seed of the random start (and restart) vectors. Default 1. */
  seed?: number;
  /** Apply the operator to each Ritz vector to measure its residual (k more applications). Default true. */
  measureResiduals?: boolean;
}

export interface Eigenpair {
  value: number;
  /** ||A y - theta y|| with A applied to the Ritz vector y on the GPU; null when not measured. */
  residual: number | null;
  /** The Lanczos residual bound ||H[n : n + b, 0 : n] s|| (see the file header). */
  residualBound: number;
  /** Operator applications after which this pair's bound first met the tolerance (all of them if it never did). */
  iterations: number;
  converged: boolean;
}

export interface LanczosResult {
  /** The top k, largest first. */
  pairs: Eigenpair[];
  /** Operator applications of the Krylov process (the residual checks not counted). */
  iterations: number;
  /**
   * k x size row-major: the unit Ritz vectors in the order of `pairs`, each signed so that its overlap with the
   * first start vector is >= 0 (deterministic for a seed). Overwritten by the next solve.
   */
  vectors: GPUBuffer;
}

/** A remaining norm below this fraction of the operator norm (estimated from ||A q|| so far) is a breakdown. */
const BREAKDOWN = 1e-5;
const DEFAULT_MAX_ITERATIONS = 100;

interface RitzPair {
  value: number;
  /** Coordinates in the first n basis vectors. */
  s: number[];
  bound: number;
}

export class LanczosSolver {
  private constructor(
    private readonly rt: GpuRuntime,
    readonly size: number,
    readonly k: number,
    readonly maxIterations: number,
    readonly blockSize: number,
    private readonly b: {
      basis: GPUBuffer;
      work: GPUBuffer;
      start: GPUBuffer;
      vectors: GPUBuffer;
      images: GPUBuffer;
      partials: GPUBuffer;
      updateCoeff: GPUBuffer;
      storeCoeff: GPUBuffer;
      ritzCoeff: GPUBuffer;
      residualCoeff: GPUBuffer;
    },
    private readonly ops: { projections: VectorOp; update: VectorOp; norm: VectorOp; store: VectorOp; ritz: VectorOp; residual: VectorOp; residualNorms: VectorOp },
  ) {}

  /** Allocates the basis ((maxIterations + blockSize) x size floats) and builds the kernels once. */
  static async create(rt: GpuRuntime, size: number, options: LanczosOptions): Promise<LanczosSolver> {
    const { k } = options;
    const blockSize = options.blockSize ?? Math.min(k, 2);
    const maxIterations = options.maxIterations ?? Math.min(size - blockSize, DEFAULT_MAX_ITERATIONS);
    if (!Number.isInteger(size) || size < 2) throw new Error(`lanczos: size must be an integer >= 2, got ${size}`);
    if (!Number.isInteger(k) || k < 1) throw new Error(`lanczos: k must be a positive integer, got ${k}`);
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new Error(`lanczos: blockSize must be a positive integer, got ${blockSize}`);
    if (!Number.isInteger(maxIterations) || maxIterations < k || maxIterations + blockSize > size) {
      throw new Error(`lanczos: maxIterations must be an integer in [k, size - blockSize] = [${k}, ${size - blockSize}], got ${maxIterations}`);
    }
    const rows = maxIterations + blockSize;
    const floats = (label: string, n: number) => rt.storage(`lanczos.${label}`, n * 4);
    const parts = partsFor(size);
    const b = {
      basis: floats('basis', rows * size),
      work: floats('work', size),
      start: floats('start', size),
      vectors: floats('vectors', k * size),
      images: floats('images', k * size),
      partials: floats('partials', Math.max(rows, k) * parts),
      updateCoeff: floats('updateCoeff', rows),
      storeCoeff: floats('storeCoeff', 1),
      ritzCoeff: floats('ritzCoeff', k * maxIterations),
      residualCoeff: floats('residualCoeff', k * k),
    };
    const n = size;
    const ops = {
      projections: await VectorOp.create(rt, dotsCall({ a: at(b.basis), b: at(b.work), partials: at(b.partials), n, rows: 1 })),
      update: await VectorOp.create(rt, combineCall({ src: at(b.basis), coeff: at(b.updateCoeff), out: at(b.work), n, rows: 1, outRows: 1, keep: true })),
      norm: await VectorOp.create(rt, dotsCall({ a: at(b.work), b: at(b.work), partials: at(b.partials), n, rows: 1 })),
      store: await VectorOp.create(rt, combineCall({ src: at(b.work), coeff: at(b.storeCoeff), out: at(b.basis), n, rows: 1, outRows: 1, keep: false })),
      ritz: await VectorOp.create(rt, combineCall({ src: at(b.basis), coeff: at(b.ritzCoeff), out: at(b.vectors), n, rows: 1, outRows: k, keep: false })),
      residual: await VectorOp.create(rt, combineCall({ src: at(b.vectors), coeff: at(b.residualCoeff), out: at(b.images), n, rows: k, outRows: k, keep: true })),
      residualNorms: await VectorOp.create(rt, dotsCall({ a: at(b.images), b: at(b.images), partials: at(b.partials), n, rows: k, paired: true })),
    };
    return new LanczosSolver(rt, size, k, maxIterations, blockSize, b, ops);
  }

  async solve(op: GpuOperator, options: SolveOptions = {}): Promise<LanczosResult> {
    const { tolerance = 1e-5, seed = 1, measureResiduals = true } = options;
    if (op.size !== this.size) throw new Error(`lanczos: the operator acts on ${op.size} floats, the solver on ${this.size}`);
    if (!(tolerance > 0 && Number.isFinite(tolerance))) throw new Error(`lanczos: tolerance must be a positive finite number, got ${tolerance}`);
    const { k, size: P, blockSize, maxIterations: m } = this;
    const rng = new Rng(seed);
    // H[r][c] = <q_r, A q_c>: rows up to m + blockSize, columns up to m.
    const H = Array.from({ length: m + blockSize }, () => new Float64Array(m));
    let basisSize = 0;
    let opNorm = 0;
    let encoder = this.rt.device.createCommandEncoder({ label: 'lanczos' });

    const addRandomVector = async () => {
      this.rt.write(this.b.start, Float32Array.from({ length: P }, () => rng.normal()));
      encoder.copyBufferToBuffer(this.b.start, 0, this.b.work, 0, P * 4);
      const { norm } = await this.orthogonalise(encoder, basisSize);
      if (!(norm > 0)) throw new Error(`lanczos: a random vector has norm ${norm} after orthogonalisation against ${basisSize} basis vectors`);
      encoder = this.encodeStore(basisSize, norm);
      basisSize += 1;
    };
    for (let s = 0; s < blockSize; s++) await addRandomVector();

    const firstConverged: (number | null)[] = new Array(k).fill(null);
    let pairs: RitzPair[] = [];
    let applied = 0;
    while (applied < m) {
      const c = applied;
      encoder = await op.apply(encoder, at(this.b.basis, c * P), at(this.b.work));
      const { coefficients, norm } = await this.orthogonalise(encoder, basisSize);
      coefficients.forEach((x, r) => (H[r][c] = x));
      opNorm = Math.max(opNorm, Math.hypot(norm, ...coefficients));
      // Before the eigensolver meets it: a non-finite image is a diverged operator (the run's window or loss).
      if (!Number.isFinite(opNorm)) throw new NonFiniteError(`the Lanczos operator's image at application ${c + 1}`, [norm, ...coefficients]);
      applied += 1;
      if (norm > BREAKDOWN * opNorm) {
        H[basisSize][c] = norm;
        encoder = this.encodeStore(basisSize, norm);
        basisSize += 1;
      } else {
        encoder = this.rt.device.createCommandEncoder({ label: 'lanczos' });
        await addRandomVector();
      }
      if (applied >= k && (applied % blockSize === 0 || applied === m)) {
        const ritz = ritzPairs(H, applied, basisSize, k);
        pairs = ritz.pairs;
        // Iterations of a pair: from when its bound has stayed within the tolerance.
        pairs.forEach((p, i) => {
          const ok = p.bound <= tolerance * ritz.scale;
          if (!ok) firstConverged[i] = null;
          else firstConverged[i] ??= applied;
        });
        if (firstConverged.every((x) => x !== null)) break;
      }
    }

    // Ritz vectors y_i = Q s_i, then (optionally) ||A y_i - theta_i y_i|| measured.
    this.rt.write(this.b.ritzCoeff, Float32Array.from(pairs.flatMap((p) => p.s)));
    this.ops.ritz.retarget(combineCall({ src: at(this.b.basis), coeff: at(this.b.ritzCoeff), out: at(this.b.vectors), n: P, rows: applied, outRows: k, keep: false }));
    this.rt.encode(encoder, [this.ops.ritz.dispatch]);
    let residuals: (number | null)[] = pairs.map(() => null);
    if (measureResiduals) {
      for (let i = 0; i < k; i++) encoder = await op.apply(encoder, at(this.b.vectors, i * P), at(this.b.images, i * P));
      const minusTheta = new Float32Array(k * k);
      pairs.forEach((p, i) => (minusTheta[i * k + i] = -p.value));
      this.rt.write(this.b.residualCoeff, minusTheta);
      this.rt.encode(encoder, [this.ops.residual.dispatch, this.ops.residualNorms.dispatch]);
      const squares = await this.submitAndSum(encoder, k);
      residuals = Array.from(squares, (x) => Math.sqrt(Math.max(0, x)));
    } else {
      this.rt.device.queue.submit([encoder.finish()]);
    }
    return {
      pairs: pairs.map((p, i) => ({
        value: p.value,
        residual: residuals[i],
        residualBound: p.bound,
        iterations: firstConverged[i] ?? applied,
        converged: firstConverged[i] !== null,
      })),
      iterations: applied,
      vectors: this.b.vectors,
    };
  }

  /**
   * Orthogonalises the work vector against the first `rows` basis vectors, twice, submitting `encoder` (which
   * may hold work that produces the vector) first. Returns the summed projection coefficients and the remaining norm.
   */
  private async orthogonalise(encoder: GPUCommandEncoder, rows: number): Promise<{ coefficients: Float64Array; norm: number }> {
    const P = this.size;
    const coefficients = new Float64Array(rows);
    let enc = encoder;
    if (rows > 0) {
      const { projections, update } = this.ops;
      projections.retarget(dotsCall({ a: at(this.b.basis), b: at(this.b.work), partials: at(this.b.partials), n: P, rows }));
      update.retarget(combineCall({ src: at(this.b.basis), coeff: at(this.b.updateCoeff), out: at(this.b.work), n: P, rows, outRows: 1, keep: true }));
      for (let pass = 0; pass < 2; pass++) {
        this.rt.encode(enc, [projections.dispatch]);
        const c = await this.submitAndSum(enc, rows);
        c.forEach((x, r) => (coefficients[r] += x));
        this.rt.write(this.b.updateCoeff, Float32Array.from(c, (x) => -x));
        enc = this.rt.device.createCommandEncoder({ label: 'lanczos' });
        this.rt.encode(enc, [update.dispatch]);
      }
    }
    this.rt.encode(enc, [this.ops.norm.dispatch]);
    const [square] = await this.submitAndSum(enc, 1);
    return { coefficients, norm: Math.sqrt(Math.max(0, square)) };
  }

  /** A new encoder holding q_row = work / norm (submitted with whatever comes next). */
  private encodeStore(row: number, norm: number): GPUCommandEncoder {
    this.rt.write(this.b.storeCoeff, Float32Array.of(1 / norm));
    this.ops.store.retarget(combineCall({ src: at(this.b.work), coeff: at(this.b.storeCoeff), out: at(this.b.basis, row * this.size), n: this.size, rows: 1, outRows: 1, keep: false }));
    const encoder = this.rt.device.createCommandEncoder({ label: 'lanczos' });
    this.rt.encode(encoder, [this.ops.store.dispatch]);
    return encoder;
  }

  /** Submits `encoder` after scheduling a read of `rows` rows of partials, and returns their float64 sums. */
  private async submitAndSum(encoder: GPUCommandEncoder, rows: number): Promise<Float64Array> {
    const read = scheduleSums(this.rt, encoder, at(this.b.partials), this.size, rows);
    this.rt.device.queue.submit([encoder.finish()]);
    return read();
  }

  destroy(): void {
    for (const buffer of Object.values(this.b)) buffer.destroy();
  }
}

/**
 * The top k Ritz pairs of the leading n x n block of H (symmetrised), with their residual bounds, and the scale
 * that tolerances are relative to: the largest |Ritz value|.
 */
function ritzPairs(H: Float64Array[], n: number, basisSize: number, k: number): { pairs: RitzPair[]; scale: number } {
  const T = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (H[i][j] + H[j][i]) / 2));
  const eig = new EigenvalueDecomposition(new Matrix(T), { assumeSymmetric: true });
  const values = eig.realEigenvalues;
  const order = values.map((_, i) => i).sort((a, b) => values[b] - values[a]).slice(0, k);
  const pairs = order.map((i) => {
    const column = eig.eigenvectorMatrix.getColumn(i);
    const s = column[0] < 0 ? column.map((x) => -x) : column;
    let square = 0;
    for (let r = n; r < basisSize; r++) {
      let x = 0;
      for (let c = 0; c < n; c++) x += H[r][c] * s[c];
      square += x * x;
    }
    return { value: values[i], s, bound: Math.sqrt(square) };
  });
  return { pairs, scale: Math.max(...values.map(Math.abs)) };
}
