// Newton-Schulz polar factor and Low-Rank Decay (docs/science.md §4.2), the elementwise and reduction steps; the products
// X X^T and B X run on the matmul kernels (src/model/ops/polar.ts puts them together):
//   X_0 = W / ||W||_F,   X_{k+1} = 1.5 X_k - 0.5 X_k X_k^T X_k = B_k X_k with B_k = 1.5 I - 0.5 X_k X_k^T,
//   then W <- W - rate * X_K  (K iterations; polar(W) = U V^T for W = U S V^T, approached as K grows).
// Kernels (`//!kernel` sections):
//   sum_of_squares  partials[t] = sum of w[i]^2 over i = t, t + T, t + 2T, ... (T = all invocations of the grid)
//   sum_partials    norm2[0] = partials[0] + ... + partials[parts - 1]        (one invocation)
//   normalise       x[i] = w[i] / sqrt(norm2[0]), and 0 when norm2 is 0 (polar(0) = 0 rather than NaN)
//   identity_plus   g[i] = diag_coeff * [i on the diagonal] + gram_coeff * g[i], in place on the m x m matrix g
//   decay           w[i] = w[i] + d with d = -rate * x[i], in place; d is also added into acc[j], j = i + acc_shift
//                   (wrapping u32), when j < acc_count: the decay half of the optimiser's gradient/decay accumulator
//                   (the spectral edge's split, src/model/ops/adamw.ts), so a tracked slice's change stays the sum
//                   of its parts. acc_count = 0 turns that off.
// Layout: every tensor is a row-major window of some buffer (W a slice of the flat parameter buffer), reached through
// the accessors read_<t>(i) / write_<t>(i, v) generated at `//!bindings` (src/gpu/kernel-template.ts).
//
// Parallel decomposition: one invocation per element, or per partial sum; no workgroup memory and no barrier, which
// software adapters (SwiftShader) pay for dearly. The norm is a two-pass reduction (partials, then one invocation
// adding at most 256 of them) so that it stays on the GPU inside the training step's command buffer; the order of
// additions is fixed by n and the grid, so it is deterministic. float32 range: |w| between ~1e-18 and ~1e18 (the
// sum of squares under- or overflows outside it). A NaN or Inf in W propagates into X and W.

//!bindings

const WG: u32 = 64u;

//!kernel sum_of_squares
// uniforms: n. tensors: w (read), partials (written, one per invocation).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  var sum = 0.0;
  for (var i = gid.x; i < p.n; i += nwg.x * WG) {
    let v = read_w(i);
    sum += v * v;
  }
  write_partials(gid.x, sum);
}

//!kernel sum_partials
// uniforms: parts. tensors: partials (read), norm2 (written, one float).
@compute @workgroup_size(1)
fn main() {
  var sum = 0.0;
  for (var i = 0u; i < p.parts; i++) {
    sum += read_partials(i);
  }
  write_norm2(0u, sum);
}

//!kernel normalise
// uniforms: n. tensors: w (read), norm2 (read), x (written).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= p.n) { return; }
  let norm2 = read_norm2(0u);
  write_x(i, read_w(i) * select(inverseSqrt(norm2), 0.0, norm2 == 0.0));
}

//!kernel identity_plus
// uniforms: m, diag_coeff, gram_coeff. tensors: g (read and written, m x m).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= p.m * p.m) { return; }
  // i = r m + c lies on the diagonal exactly when r = c, i.e. when i is a multiple of m + 1.
  write_g(i, select(0.0, p.diag_coeff, i % (p.m + 1u) == 0u) + p.gram_coeff * read_g(i));
}

//!kernel decay
// uniforms: n, rate, acc_shift, acc_count. tensors: w (read and written), x (read), acc (read and written).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= p.n) { return; }
  let d = -p.rate * read_x(i);
  write_w(i, read_w(i) + d);
  let j = i + p.acc_shift; // W's element i in the accumulator's slice (wraps around below its start)
  if (j < p.acc_count) { write_acc(j, read_acc(j) + d); }
}
