// Matrix products with fused epilogues: C[M, N] = epilogue(op(A) op(B)), f32, row-major; the tiled kernel runs
// one or several independent products ("jobs", e.g. a Linear layer's dW and dX) in one dispatch.
//
// Layout: A is stored [M, K], or [K, M] when transA; B is stored [K, N], or [N, K] when transB. Every tensor
// is a window of some buffer, reached through the accessors read_<t>(i) / write_<t>(i, v) that
// src/gpu/kernel-template.ts generates at the `//!bindings` line (i counted from the tensor's start).
// Epilogue, in this order, for each output (m, n) with acc = sum_k op(A)[m, k] op(B)[k, n]:
//   hasBias       v = acc + bias[n]                      (otherwise v = acc)
//   gelu          preact[m, n] = v;  v = gelu(v)         (exact erf GELU, erfc approximated as below)
//   geluGrad      v = v * gelu'(preact[m, n])            (backward through the GELU of the forward pass)
//   hasResidual   v = v + residual[m, n]
//   C[m, n] = v
//   biasGrad      also db[m] = sum_k op(A)[m, k]         (the bias gradient when A = dY^T), written once per m
//
// Norm on load (NORM, the fused graph; one job, tiled kernel, A not transposed): A is not read but computed, the
// model's LayerNorm or RMSNorm of x [M, K] row-major with gamma (and beta) [K], as shaders/layernorm.wgsl's forward
// computes it (shaders/norm_row.wgsl: the statistics summed in the order of the norm kernel variant this adapter
// runs, the same output arithmetic), so C is the bits of the norm kernel followed by this one. Each tile computes
// the statistics of its rows itself (K = d_model is small), and the first tile column also writes what the norm
// kernel would: A [M, K] (the normalised rows, which the backward's dW reads), mean (LayerNorm) and rstd [M], and,
// when x is the embeddings (x_at computes pos_emb + tok_emb, as shaders/embedding.wgsl does), x itself.
//
// Norm backward (the fused graph on GPUs; shaders/norm_grad.wgsl): a dispatch may also do one of two parts of a
// row-major norm's backward, in the order and with the bits of shaders/layernorm.wgsl's backward on this adapter.
//   In the epilogue of the one job whose C is the norm's dy [M, N = d] (JOB_TILES calls normGradStrip for it): each
//     workgroup computes a strip of TILE whole rows (its tiles one after another), then, after a storage barrier, one
//     invocation per row takes the row's sums of C, and the workgroup writes dx [M, d] (plus dx's own contents when
//     NORM_RESIDUAL: the residual stream's gradient, updated in place); x, gamma, mean (LayerNorm) and rstd are the
//     forward's. Under
//     a window (the final norm of a model read out at some positions: C has only those rows) dy row r is x row
//     x_row(r), and without a residual gradient the thread of each sequence's first row in the window zeroes its rows
//     of dx outside it.
//   The gain sums (JOB_TILES calls norm_gain_sums), in the workgroups after every job's tiles: GAIN_LANES
//     invocations per column (GAIN_COLS columns a workgroup) sum dgamma (and dbeta) [d] over the norm's rows of dy
//     [rows, d] (written by an earlier dispatch), x, mean, rstd.
//
// Attention on load (ATTENTION, the fused graph on GPUs; one job, tiled kernel, A not transposed): A [M = batch *
// seq_len, K = d_model] is self-attention's output, which each workgroup computes for a strip of TILE whole rows first
// (every head of each row, one (row, head) per invocation: shaders/attention_row.wgsl's forward_row, the attention
// kernel's own code, so the same bits), writing A and the probabilities as the attention kernel would, and after a
// storage barrier reads back as any A, tile after tile of its rows. Attention backward in the epilogue (ATTENTION, a
// sequence longer than the attention backward's SHORT_SEQUENCE): the job whose C is the attention's dOut computes each
// strip of whole rows, then, after a storage barrier, the backward_row of every (row, head) of the strip (dQ and the
// scratch scale * dS; the attention's backward_keys dispatch follows).
//
// Jobs: every shape, flag and tensor above belongs to one job j (0 <= j < JOBS); the generated functions take the
// job first: dims(j) = (M, N, K), transA(j) ... biasGrad(j), read_a(j, i) ... write_db(j, i). The tiled kernel
// numbers the tiles of all jobs in one sequence (job 0's first) and calls tile(j, t, lid) with a literal j for
// each job's range, so every flag and accessor is a constant that the compiler folds: each job runs the same
// code, in the same order of operations, as it would alone. The skinny kernel runs one job.
//
// Parallel decomposition: two kernels (`//!kernel` sections), chosen by shape and adapter in
// src/model/ops/matmul.ts (chooseMatmulKernel).
//   tiled:  one workgroup per TILE x TILE tile of a job's C, WG_DIM x WG_DIM invocations, each accumulating
//           QUADS x QUADS blocks of 4 x 4 outputs in registers. With STAGED (GPUs: 64 x 64 tiles, 4 x 4 per
//           invocation) K is walked in BK = 16 deep slabs staged in workgroup memory, loaded so that
//           consecutive invocations read consecutive addresses of the stored layout. Without (CPU
//           implementations such as SwiftShader, which emulate workgroup memory and barriers at a high cost:
//           8 x 8 per invocation) each invocation reads its operands straight from the buffers, no barrier.
//           The workgroups of the first tile column also sum op(A) for db.
//   skinny: for a small side (M or N, at most 4 * SMALL_VEC4S <= 16 outputs): each invocation owns one
//           `line` (an index along the long side of C) and keeps all small-side outputs of that line in
//           registers; the K loop is split over SLICES invocations per line (a power of two), whose partial
//           sums are added by a tree in workgroup memory. db comes out as one more output: op(B) is given a
//           column of ones at n = N (ONES_COLUMN), whose products are exactly the sums of op(A).
// Operands outside the matrices (ragged edges) read as 0, except in the direct tiled kernel, whose rows past M and
// columns past N read whatever is there (rawA4, rawB4) into outputs it never stores; values inside are multiplied in
// as they are, so a NaN or Inf in A or B reaches every output it belongs to. Every output element is written by
// exactly one invocation, in a fixed order of additions: deterministic, no atomics.

// ---- filled by matmulKernel() in src/model/ops/matmul.ts ----
const ONES_COLUMN: bool = {{ONES_COLUMN}};
const WORKGROUP_SIZE: u32 = {{WORKGROUP_SIZE}}u;
const NORM: bool = {{NORM}};
const CENTRED: bool = {{CENTRED}};          // with NORM: LayerNorm (true) or RMSNorm
const NORM_LANES: u32 = {{NORM_LANES}};     // with NORM, NORM_GRAD or GAIN_SUMS: the norm kernel's lanes on this adapter
const NORM_WG: u32 = WORKGROUP_SIZE;        // lane_sum's workgroup (shaders/norm_row.wgsl)
const NORM_RESIDUAL: bool = {{NORM_RESIDUAL}}; // with NORM_GRAD: dx += the norm's input gradient
//!bindings
// Per job: dims, the flags transA, transB, hasBias, hasResidual, gelu, geluGrad, biasGrad, and the accessors
// read_a, read_b, write_a, write_c, read_bias, read_residual, read_preact, write_preact, write_db (stand-ins where a
// job does not bind the tensor, only reached in branches its flags rule out). NORM's accessors read_x, write_x,
// read_gamma, read_beta, write_mean, write_rstd (stand-ins where not bound; read_beta returns 0 for RMSNorm); the norm
// backward's read_dy, read_mean, read_rstd, read_dx, write_dx, write_dgamma, write_dbeta (likewise), norm_dims(), its
// (rows, d) (zeros without one), the window functions x_row, dy_row and x_rows (shaders/norm_grad.wgsl) and
// clear_outside(r, d) (the rows of dx outside a
// window, zeroed when the norm has no residual gradient; nothing otherwise).
{{JOB_FUNCTIONS}}

// Element i of row r of the norm's input x: a read of x (rows of K with NORM, of norm_d otherwise) or the embeddings' sum.
fn x_at(r: u32, i: u32) -> f32 {
  {{X_AT}}
}
// ---- end of filled part ----

{{NORM_ROW}}

{{NORM_GRAD_ROW}}

// The statistics of the norm's rows m .. m+3 (rows past M: the last row's).
struct RowStats4 { mean: vec4<f32>, rstd: vec4<f32> }

fn rowStats4(m: u32) -> RowStats4 {
  let d = dims(0u);
  let s0 = norm_stats(min(m, d.x - 1u), d.z, p.eps);
  let s1 = norm_stats(min(m + 1u, d.x - 1u), d.z, p.eps);
  let s2 = norm_stats(min(m + 2u, d.x - 1u), d.z, p.eps);
  let s3 = norm_stats(min(m + 3u, d.x - 1u), d.z, p.eps);
  return RowStats4(vec4(s0.x, s1.x, s2.x, s3.x), vec4(s0.y, s1.y, s2.y, s3.y));
}

// A[m .. m+3, k] normalised on load with the rows' statistics, 0 outside the matrix (reads clamped into it). Written
// out rather than looped: SwiftShader does not unroll loops, and indexing a vector there is slow.
fn normA(m: u32, k: u32, mean: f32, rstd: f32, g: f32, b: f32) -> f32 {
  let d = dims(0u);
  return select(0.0, norm_apply(x_at(min(m, d.x - 1u), min(k, d.z - 1u)), mean, rstd, g, b), m < d.x && k < d.z);
}

fn normA4(m: u32, k: u32, s: RowStats4) -> vec4<f32> {
  let kk = min(k, dims(0u).z - 1u);
  let g = read_gamma(kk);
  let b = read_beta(kk);
  return vec4(normA(m, k, s.mean.x, s.rstd.x, g, b), normA(m + 1u, k, s.mean.y, s.rstd.y, g, b),
    normA(m + 2u, k, s.mean.z, s.rstd.z, g, b), normA(m + 3u, k, s.mean.w, s.rstd.w, g, b));
}

// Writes element k of row m of the norm as the norm kernel would (see the header): A, and x when it is computed.
fn writeNormElement(m: u32, k: u32, mean: f32, rstd: f32) {
  let K = dims(0u).z;
  let x = x_at(m, k);
  write_x(m * K + k, x);
  write_a(0u, m * K + k, norm_apply(x, mean, rstd, read_gamma(k), read_beta(k)));
}

// Writes row m of the norm: its statistics and elements.
fn writeNormRow(m: u32, mean: f32, rstd: f32) {
  let d = dims(0u);
  if (m >= d.x) { return; }
  write_mean(m, mean);
  write_rstd(m, rstd);
  for (var k = 0u; k < d.z; k++) {
    writeNormElement(m, k, mean, rstd);
  }
}

fn writeNormRows4(m: u32, s: RowStats4) {
  writeNormRow(m, s.mean.x, s.rstd.x);
  writeNormRow(m + 1u, s.mean.y, s.rstd.y);
  writeNormRow(m + 2u, s.mean.z, s.rstd.z);
  writeNormRow(m + 3u, s.mean.w, s.rstd.w);
}

// Where op(A)[m, k] and op(B)[k, n] are stored.
fn indexA(job: u32, m: u32, k: u32) -> u32 {
  let d = dims(job);
  return select(m * d.z + k, k * d.x + m, transA(job));
}

fn indexB(job: u32, k: u32, n: u32) -> u32 {
  let d = dims(job);
  return select(k * d.y + n, n * d.z + k, transB(job));
}

// op(A)[m, k], 0 outside the matrix. The load is unconditional (an out-of-range index reads some element
// of the buffer, or is clamped to it by WebGPU's bounds checks) and `select` drops it: no divergent branch,
// which SwiftShader runs as masked per-lane loads (measured 4x slower there).
fn loadOpA(job: u32, m: u32, k: u32) -> f32 {
  let d = dims(job);
  return select(0.0, read_a(job, indexA(job, m, k)), m < d.x && k < d.z);
}

// op(B)[k, n], 0 outside the matrix, except the ones column at n = N that carries db in the skinny kernel.
fn loadOpB(job: u32, k: u32, n: u32) -> f32 {
  let d = dims(job);
  let outside = select(0.0, 1.0, ONES_COLUMN && n == d.y && k < d.z);
  return select(outside, read_b(job, indexB(job, k, n)), n < d.y && k < d.z);
}

// op(A)[m .. m+3, k] and op(B)[k, n .. n+3].
fn opA4(job: u32, m: u32, k: u32) -> vec4<f32> {
  return vec4(loadOpA(job, m, k), loadOpA(job, m + 1u, k), loadOpA(job, m + 2u, k), loadOpA(job, m + 3u, k));
}

fn opB4(job: u32, k: u32, n: u32) -> vec4<f32> {
  return vec4(loadOpB(job, k, n), loadOpB(job, k, n + 1u), loadOpB(job, k, n + 2u), loadOpB(job, k, n + 3u));
}

// The same for k < K, unchecked: a row past M (column past N) reads whatever its index holds, or what the bounds
// checks clamp it to. For a kernel that never stores the outputs of such rows and columns: their products are never
// added to one it stores, so the stored outputs are the same bits. The checks took a fifth of the direct tiled
// kernel's time on SwiftShader (quick-add's step: 175 -> 142 ms).
fn rawA4(job: u32, m: u32, k: u32) -> vec4<f32> {
  return vec4(read_a(job, indexA(job, m, k)), read_a(job, indexA(job, m + 1u, k)), read_a(job, indexA(job, m + 2u, k)),
    read_a(job, indexA(job, m + 3u, k)));
}

fn rawB4(job: u32, k: u32, n: u32) -> vec4<f32> {
  return vec4(read_b(job, indexB(job, k, n)), read_b(job, indexB(job, k, n + 1u)), read_b(job, indexB(job, k, n + 2u)),
    read_b(job, indexB(job, k, n + 3u)));
}

// erfc(z) for z >= 0, Numerical Recipes' erfcc (Chebyshev fit): fractional error below 1.2e-7 everywhere,
// so erf = 1 - erfc is within 1.2e-7 absolute and GELU keeps its relative accuracy in the negative tail.
fn erfcNonNegative(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * exp(poly - z * z);
}

// Standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2.
fn normalCdf(x: f32) -> f32 {
  let half = 0.5 * erfcNonNegative(abs(x) * 0.70710678118654752);
  return select(1.0 - half, half, x < 0.0);
}

fn geluOf(x: f32) -> f32 {
  return x * normalCdf(x);
}

// d gelu / dx = Phi(x) + x phi(x).
fn geluDerivative(x: f32) -> f32 {
  return normalCdf(x) + x * 0.39894228040143268 * exp(-0.5 * x * x);
}

// Applies the epilogue to one accumulated output inside the matrix (n == N only for the ones column).
fn storeOutput(job: u32, m: u32, n: u32, acc: f32) {
  let N = dims(job).y;
  if (ONES_COLUMN && n == N) {
    write_db(job, m, acc);
    return;
  }
  let mn = m * N + n;
  var v = acc;
  if (hasBias(job)) { v += read_bias(job, n); }
  if (gelu(job)) {
    write_preact(job, mn, v);
    v = geluOf(v);
  }
  if (geluGrad(job)) { v *= geluDerivative(read_preact(job, mn)); }
  if (hasResidual(job)) { v += read_residual(job, mn); }
  write_c(job, mn, v);
}

//!kernel tiled
const WG_DIM: u32 = {{WG_DIM}}u;        // invocations along each side of the workgroup
const QUADS: u32 = {{QUADS}}u;          // 1 or 2: each invocation holds QUADS x QUADS blocks of 4 x 4 outputs
const STAGED: bool = {{STAGED}};        // stage K slabs in workgroup memory, or read the operands directly
const TILE: u32 = 4u * QUADS * WG_DIM;  // side of the C tile of one workgroup
const TQ: u32 = TILE / 4u;              // quads (4 rows or 4 columns) along a tile side
const BK: u32 = 16u;                    // depth of a staged slab

// The current K slab of A and B, k-major, four consecutive rows (columns) packed in a vec4:
// tileA[kk * TQ + q] = op(A)[m0 + 4q .. 4q+3, k0 + kk],  tileB[kk * TQ + q] = op(B)[k0 + kk, n0 + 4q .. 4q+3].
var<workgroup> tileA: array<vec4<f32>, BK * TQ>;
var<workgroup> tileB: array<vec4<f32>, BK * TQ>;

// 4 x 4 outputs in registers, row-major. A struct rather than an array so that every access has a constant
// index: SwiftShader does not unroll loops, and an indexed private array there runs about 4x slower.
struct Quad { r0: vec4<f32>, r1: vec4<f32>, r2: vec4<f32>, r3: vec4<f32> }

fn accumulate(q: ptr<function, Quad>, a: vec4<f32>, b: vec4<f32>) {
  (*q).r0 += a.x * b;
  (*q).r1 += a.y * b;
  (*q).r2 += a.z * b;
  (*q).r3 += a.w * b;
}

fn storeRow(job: u32, m: u32, n: u32, v: vec4<f32>) {
  let d = dims(job);
  if (m >= d.x) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (n + j < d.y) { storeOutput(job, m, n + j, v[j]); }
  }
}

fn storeQuad(job: u32, m: u32, n: u32, q: Quad) {
  storeRow(job, m, n, q.r0);
  storeRow(job, m + 1u, n, q.r1);
  storeRow(job, m + 2u, n, q.r2);
  storeRow(job, m + 3u, n, q.r3);
}

fn storeDb(job: u32, m: u32, v: vec4<f32>) {
  for (var i = 0u; i < 4u; i++) {
    if (m + i < dims(job).x) { write_db(job, m + i, v[i]); }
  }
}

// Quad e of a slab as (quad, kk): consecutive invocations step along whichever index is contiguous in the
// stored operand, so a workgroup's global reads coalesce.
fn slabQuad(e: u32, kContiguous: bool) -> vec2<u32> {
  if (kContiguous) { return vec2(e / BK, e % BK); }
  return vec2(e % TQ, e / TQ);
}

// NORM, staged: the statistics of the tile's rows, computed before the first slab.
var<workgroup> tileStats: array<vec2<f32>, TILE>;

fn tileRowStats4(q: u32) -> RowStats4 {
  let s0 = tileStats[4u * q];
  let s1 = tileStats[4u * q + 1u];
  let s2 = tileStats[4u * q + 2u];
  let s3 = tileStats[4u * q + 3u];
  return RowStats4(vec4(s0.x, s1.x, s2.x, s3.x), vec4(s0.y, s1.y, s2.y, s3.y));
}

// NORM, staged: one invocation per row of the tile computes its statistics into tileStats. Followed by a barrier.
fn stageStats(lid: u32, m0: u32) {
  let d = dims(0u);
  for (var r = lid; r < TILE; r += WORKGROUP_SIZE) {
    tileStats[r] = norm_stats(min(m0 + r, d.x - 1u), d.z, p.eps);
  }
}

// NORM, staged, the first tile column: the tile's rows of the norm (writeNormRow), from tileStats, element after
// element, neighbouring invocations on neighbouring elements (coalesced, where one invocation a row strides by K).
fn writeTileNormRows(lid: u32, m0: u32) {
  let d = dims(0u);
  let rows = min(TILE, d.x - m0);
  for (var r = lid; r < rows; r += WORKGROUP_SIZE) {
    write_mean(m0 + r, tileStats[r].x);
    write_rstd(m0 + r, tileStats[r].y);
  }
  for (var e = lid; e < rows * d.z; e += WORKGROUP_SIZE) {
    let s = tileStats[e / d.z];
    writeNormElement(m0 + e / d.z, e % d.z, s.x, s.y);
  }
}

fn stageSlab(job: u32, lid: u32, m0: u32, n0: u32, k0: u32) {
  for (var e = lid; e < BK * TQ; e += WORKGROUP_SIZE) {
    let qa = slabQuad(e, !transA(job));
    if (NORM) {
      tileA[qa.y * TQ + qa.x] = normA4(m0 + 4u * qa.x, k0 + qa.y, tileRowStats4(qa.x));
    } else {
      tileA[qa.y * TQ + qa.x] = opA4(job, m0 + 4u * qa.x, k0 + qa.y);
    }
    let qb = slabQuad(e, transB(job));
    tileB[qb.y * TQ + qb.x] = opB4(job, k0 + qb.y, n0 + 4u * qb.x);
  }
}

// Tile t of job `job` (row-major over the job's tiles), computed by the workgroup's invocation lid.
fn tile(job: u32, t: u32, lid: u32) {
  let d = dims(job);
  let tilesN = (d.y + TILE - 1u) / TILE;
  let tileN = t % tilesN;
  let tileM = t / tilesN;
  let tm = lid / WG_DIM;
  let tn = lid % WG_DIM;
  let m = tileM * TILE + 4u * QUADS * tm;  // first row and column of this invocation's block
  let n = tileN * TILE + 4u * QUADS * tn;
  // Reading directly, an invocation whose block lies outside C has nothing to do; staging, it still loads.
  let hasWork = STAGED || (m < d.x && n < d.y);
  let sumsDb = biasGrad(job) && tileN == 0u && tn == 0u;
  var q00: Quad;  // q<row quad><column quad>, zero-initialised
  var q01: Quad;
  var q10: Quad;
  var q11: Quad;
  var db0 = vec4<f32>(0.0);
  var db1 = vec4<f32>(0.0);
  // NORM: the statistics of the rows this invocation loads (staged: of the whole tile, in workgroup memory); the
  // first tile column writes the norm's rows.
  var s0: RowStats4;
  var s1: RowStats4;
  if (NORM && STAGED) {
    stageStats(lid, tileM * TILE);
    workgroupBarrier();
    if (tileN == 0u) { writeTileNormRows(lid, tileM * TILE); }
  } else if (NORM) {
    s0 = rowStats4(m);
    if (QUADS > 1u) { s1 = rowStats4(m + 4u); }
    if (tileN == 0u && tn == 0u) {
      writeNormRows4(m, s0);
      if (QUADS > 1u) { writeNormRows4(m + 4u, s1); }
    }
  }
  for (var k0 = 0u; k0 < d.z; k0 += BK) {
    if (STAGED) {
      stageSlab(job, lid, tileM * TILE, tileN * TILE, k0);
      workgroupBarrier();
    }
    // Staged slabs are zero-padded, so their loop has a constant trip count that GPU compilers unroll.
    let depth = select(select(0u, min(BK, d.z - k0), hasWork), BK, STAGED);
    for (var kk = 0u; kk < depth; kk++) {
      var a0: vec4<f32>;
      var a1: vec4<f32>;
      var b0: vec4<f32>;
      var b1: vec4<f32>;
      if (STAGED) {
        a0 = tileA[kk * TQ + QUADS * tm];
        b0 = tileB[kk * TQ + QUADS * tn];
        if (QUADS > 1u) {
          a1 = tileA[kk * TQ + QUADS * tm + 1u];
          b1 = tileB[kk * TQ + QUADS * tn + 1u];
        }
      } else {
        let k = k0 + kk;
        if (NORM) {
          a0 = normA4(m, k, s0);
          if (QUADS > 1u) { a1 = normA4(m + 4u, k, s1); }
        } else {
          a0 = rawA4(job, m, k);
          if (QUADS > 1u) { a1 = rawA4(job, m + 4u, k); }
        }
        b0 = rawB4(job, k, n);
        if (QUADS > 1u) { b1 = rawB4(job, k, n + 4u); }
      }
      accumulate(&q00, a0, b0);
      if (sumsDb) { db0 += a0; }
      if (QUADS > 1u) {
        accumulate(&q01, a0, b1);
        accumulate(&q10, a1, b0);
        accumulate(&q11, a1, b1);
        if (sumsDb) { db1 += a1; }
      }
    }
    if (STAGED) { workgroupBarrier(); }
  }
  storeQuad(job, m, n, q00);
  if (sumsDb) { storeDb(job, m, db0); }
  if (QUADS > 1u) {
    storeQuad(job, m, n + 4u, q01);
    storeQuad(job, m + 4u, n, q10);
    storeQuad(job, m + 4u, n + 4u, q11);
    if (sumsDb) { storeDb(job, m + 4u, db1); }
  }
}

// ATTENTION: strip s of the job's rows (TILE whole rows): first their attention, written to A, then every tile of them.
fn attentionStrip(job: u32, s: u32, lid: u32) {
  let d = dims(job);
  attention_rows(s * TILE, min((s + 1u) * TILE, d.x), lid);
  storageBarrier(); // the strip's A is written and visible to the workgroup
  let tilesN = (d.y + TILE - 1u) / TILE;
  for (var tn = 0u; tn < tilesN; tn++) {
    tile(job, s * tilesN + tn, lid);
  }
}

// ATTENTION, backward: strip s of the job's rows (TILE whole rows: every tile of them, C = dOut), then their rows of
// the attention's backward.
fn attentionGradStrip(job: u32, s: u32, lid: u32) {
  let d = dims(job);
  let tilesN = (d.y + TILE - 1u) / TILE;
  for (var tn = 0u; tn < tilesN; tn++) {
    tile(job, s * tilesN + tn, lid);
  }
  storageBarrier(); // the strip's C is written and visible to the workgroup
  attention_rows(s * TILE, min((s + 1u) * TILE, d.x), lid);
}

{{ATTENTION}}

// NORM_GRAD: the sums of each row of the strip (norm_grad_sums), for its dx.
var<workgroup> stripSums: array<vec2<f32>, TILE>;

// NORM_GRAD: strip s of the job's rows (TILE whole rows: every tile of them), then the norm's dx of those rows.
fn normGradStrip(job: u32, s: u32, lid: u32) {
  let d = dims(job);
  let tilesN = (d.y + TILE - 1u) / TILE;
  for (var tn = 0u; tn < tilesN; tn++) {
    tile(job, s * tilesN + tn, lid);
  }
  storageBarrier(); // the strip's C, the norm's dy, is written and visible to the workgroup
  let first = s * TILE;
  let end = min(first + TILE, d.x);
  for (var r = first + lid; r < end; r += WORKGROUP_SIZE) {
    stripSums[r - first] = norm_grad_sums(r, d.y);
    clear_outside(r, d.y);
  }
  workgroupBarrier();
  // dx element after element, neighbouring invocations on neighbouring elements (coalesced, where one invocation a
  // row strides by d).
  for (var e = lid; e < (end - first) * d.y; e += WORKGROUP_SIZE) {
    let r = first + e / d.y;
    let i = e % d.y;
    let xr = x_row(r);
    var residual = 0.0;
    if (NORM_RESIDUAL) { residual = read_dx(xr * d.y + i); }
    write_dx(xr * d.y + i, norm_grad_dx(r, i, d.y, stripSums[e / d.y], residual));
  }
}

// The workgroups are numbered x-first (the grid spills into y past the adapter's per-dimension limit); those past
// the last tile do nothing. JOB_TILES calls tile(j, t - first tile of job j, lid) for the job that owns tile t.
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = wg.y * nwg.x + wg.x;
  {{JOB_TILES}}
}

//!kernel skinny
// One job (job 0).
const SMALL_IS_M: bool = {{SMALL_IS_M}};
const SMALL_VEC4S: u32 = {{SMALL_VEC4S}}u;  // vec4 accumulators in use: ceil(small-side outputs / 4)
const SLICES: u32 = {{SLICES}}u;            // invocations sharing one line's K loop, a power of two
const LINES_PER_GROUP: u32 = WORKGROUP_SIZE / SLICES;

var<workgroup> partials: array<vec4<f32>, WORKGROUP_SIZE>;

// Lines run along the long side of C; small indices along the short one (see the header).
fn lineCount() -> u32 {
  let d = dims(0u);
  if (SMALL_IS_M) { return select(d.y, d.y + 1u, ONES_COLUMN); }
  return d.x;
}

fn smallCount() -> u32 {
  let d = dims(0u);
  if (SMALL_IS_M) { return d.x; }
  return select(d.y, d.y + 1u, ONES_COLUMN);
}

fn loadLine(line: u32, k: u32) -> f32 {
  if (SMALL_IS_M) { return loadOpB(0u, k, line); }
  return loadOpA(0u, line, k);
}

// Small-side operand values s0 .. s0+3 at depth k.
fn loadSmall(s0: u32, k: u32) -> vec4<f32> {
  if (SMALL_IS_M) { return opA4(0u, s0, k); }
  return opB4(0u, k, s0);
}

// Sum of v over the SLICES invocations of a line (consecutive lid); valid where slice == 0. Must be reached
// in uniform control flow. Without slices there is no barrier at all, which keeps SwiftShader off its slow
// path for barrier-synchronised workgroups.
fn sumOverSlices(lid: u32, slice: u32, v: vec4<f32>) -> vec4<f32> {
  if (SLICES == 1u) { return v; }
  partials[lid] = v;
  workgroupBarrier();
  for (var half = SLICES / 2u; half > 0u; half /= 2u) {
    if (slice < half) { partials[lid] += partials[lid + half]; }
    workgroupBarrier();
  }
  let total = partials[lid];
  workgroupBarrier();
  return total;
}

fn storeSmall(line: u32, s0: u32, v: vec4<f32>) {
  for (var j = 0u; j < 4u; j++) {
    let s = s0 + j;
    if (s < smallCount()) {
      if (SMALL_IS_M) { storeOutput(0u, s, line, v[j]); } else { storeOutput(0u, line, s, v[j]); }
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let slice = lid % SLICES;
  let line = wg.x * LINES_PER_GROUP + lid / SLICES;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  if (line < lineCount()) {
    for (var k = slice; k < dims(0u).z; k += SLICES) {
      let x = loadLine(line, k);
      acc0 += x * loadSmall(0u, k);
      if (SMALL_VEC4S > 1u) { acc1 += x * loadSmall(4u, k); }
      if (SMALL_VEC4S > 2u) { acc2 += x * loadSmall(8u, k); }
      if (SMALL_VEC4S > 3u) { acc3 += x * loadSmall(12u, k); }
    }
  }
  acc0 = sumOverSlices(lid, slice, acc0);
  if (SMALL_VEC4S > 1u) { acc1 = sumOverSlices(lid, slice, acc1); }
  if (SMALL_VEC4S > 2u) { acc2 = sumOverSlices(lid, slice, acc2); }
  if (SMALL_VEC4S > 3u) { acc3 = sumOverSlices(lid, slice, acc3); }
  if (slice == 0u && line < lineCount()) {
    storeSmall(line, 0u, acc0);
    if (SMALL_VEC4S > 1u) { storeSmall(line, 4u, acc1); }
    if (SMALL_VEC4S > 2u) { storeSmall(line, 8u, acc2); }
    if (SMALL_VEC4S > 3u) { storeSmall(line, 12u, acc3); }
  }
}
