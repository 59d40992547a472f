// LayerNorm and RMSNorm over vectors of d elements, forward and backward (PyTorch semantics: biased variance,
// eps inside the square root):
//   LayerNorm (CENTRED):  y = (x - mean) * rstd * gamma + beta,  rstd = 1 / sqrt(var + eps)
//   RMSNorm:              y = x * rstd * gamma,                   rstd = 1 / sqrt(mean(x^2) + eps)
// RMSNorm is LayerNorm with the mean held at 0 and no beta, so both share every line below through
// xhat = (x - mean) * rstd; CENTRED selects the variant at compile time.
//
// Data layout: the kernel normalises `rows` vectors of d elements. Vector r is segment s = r % SEGS of outer
// row o = r / SEGS; its element i lies at o * x_stride + s * d + i in x, dx and residual, and at
// o * y_stride + s * d + i in y and dy. The model's LayerNorms and RMSNorms have SEGS = 1 and both strides d
// (row-major [rows, d]). QK-norm normalises every head of Q and K: SEGS = 2 * n_heads vectors of head_dim per
// token, read from the fused qkv (x_stride 3 d_model) and written to a [tokens, 2 d_model] q|k tensor
// (y_stride 2 d_model). gamma, beta, dgamma and dbeta hold GAINS = SEGS / SET_SEGS gain vectors of d, one for
// each run of SET_SEGS consecutive segments (QK-norm: SET_SEGS = n_heads, gamma[0, d) scales the q heads and
// gamma[d, 2d) the k heads). mean (LayerNorm only) and rstd are [rows], saved by the forward for the backward.
// y and dy may hold a window of Y_SEGS consecutive segments of each outer row, from segment Y_FIRST on (the final
// LayerNorm of a model read out at some positions only: SEGS = positions, the window the readout positions, y the
// head's input [batch * readout, d]); then segment s of outer row o is at o * y_stride + (s - Y_FIRST) * d. The
// forward normalises only the vectors in the window; the backward treats dy as 0 outside it, which makes their dx
// the residual gradient alone (0 without one) and adds nothing to the gain sums. A window needs one gain vector
// (SET_SEGS = SEGS); without one, Y_FIRST = 0 and Y_SEGS = SEGS.
// Every tensor is a window of some buffer, read and written through the accessors generated at `//!bindings`
// (src/gpu/kernel-template.ts). The arithmetic of one vector's output (xhat, norm_apply) is shaders/norm_row.wgsl's,
// shared with the kernels that normalise their own input; its norm_stats computes the statistics below in this
// kernel's order by one invocation.
//
// Embedding input (forward, row-major only): the model's first norm may take its input from the token and
// position embeddings instead of reading x, x[r, :] = pos_emb[r % seq_len, :] + tok_emb[tokens[r], :] (the
// token term left out for ids >= vocab, as shaders/embedding.wgsl computes it), and then also writes x, the
// residual stream's first state. The fills X_AT and SAVE_X are the bodies of x_at(r, i) (a read of x, or that
// sum) and of save_x(i, v) (nothing, or a write of x).
//
// Parallel decomposition: LANES invocations share a vector, WG / LANES vectors per workgroup of WG invocations.
// Two variants, chosen by adapter in src/model/ops/layernorm.ts (chooseLayerNormKernel):
//   LANES = WG (GPUs):  one workgroup per vector; the lanes stride over the elements and their partial sums
//                       meet in a tree reduction in workgroup memory (lane_sum, shaders/norm_row.wgsl).
//   LANES = 1 (CPU implementations such as SwiftShader, which emulate workgroup memory and barriers at a
//                       high cost per workgroup): one invocation owns a whole vector and loops over it; no
//                       workgroup memory, no barrier.
//   forward:  LayerNorm takes two passes (mean, then the variance around it, corrected two-pass), which keeps
//             the mean and variance accurate when |mean| >> std; RMSNorm only the second, around 0.
//   backward: ONE dispatch for dx and the gain sums. The first ceil(rows / (WG / LANES)) workgroups compute
//             dx; the rest each own COLS adjacent gain columns and sum dgamma (and dbeta) over every vector
//             that gain scales, GAIN_LANES lanes per column (1 without workgroup memory: one invocation loops
//             over all of them), in a fixed order: deterministic, no atomics, and no second dispatch.
//
// Template fills (src/model/ops/layernorm.ts): {{WG}}, {{LANES}} (1 or WG), {{SEGS}}, {{SET_SEGS}}, {{Y_FIRST}} and
// {{Y_SEGS}} (the layout above), {{CENTRED}} (true: LayerNorm, false: RMSNorm) with the bodies of the LayerNorm-only accessors
// {{BETA}}, {{MEAN}}, {{SAVE_MEAN}} and {{SAVE_DBETA}} (RMSNorm binds no beta, mean or dbeta: `return 0.0;` or
// nothing), and {{RESIDUAL_GRAD}}, the body of residual_grad(i): `return 0.0;` or a read of the residual
// tensor, which may be dx itself (in place).

//!bindings

const WG: u32 = {{WG}};
const LANES: u32 = {{LANES}};
const ROWS_PER_GROUP: u32 = WG / LANES;
const SEGS: u32 = {{SEGS}};
const SET_SEGS: u32 = {{SET_SEGS}};
const GAINS: u32 = SEGS / SET_SEGS;
const Y_FIRST: u32 = {{Y_FIRST}};
const Y_SEGS: u32 = {{Y_SEGS}};
const CENTRED: bool = {{CENTRED}};
const NORM_LANES: u32 = LANES;
const NORM_WG: u32 = WG;

// Where invocation lid of row-workgroup `group` works: the LANES lanes of a vector are congruent modulo
// ROWS_PER_GROUP (what lane_sum adds up). Spare slots past the last vector recompute the last one (so every
// read is in range and no branch diverges around a barrier) and must not write.
struct RowSlot {
  row: u32,
  lane: u32,
  writes: bool,
}

fn row_slot(group: u32, lid: u32) -> RowSlot {
  let r = group * ROWS_PER_GROUP + lid % ROWS_PER_GROUP;
  return RowSlot(min(r, p.rows - 1u), lid / ROWS_PER_GROUP, r < p.rows);
}

// The first element of vector r in x (dx, residual) and in y (dy), and its gain vector's first element.
fn x_base(r: u32) -> u32 {
  return (r / SEGS) * p.x_stride + (r % SEGS) * p.d;
}

// Only for vectors in the window.
fn y_base(r: u32) -> u32 {
  return (r / SEGS) * p.y_stride + (r % SEGS - Y_FIRST) * p.d;
}

fn in_window(r: u32) -> bool {
  return r % SEGS - Y_FIRST < Y_SEGS; // wraps around below the window, so one comparison tests both ends
}

fn gain_base(r: u32) -> u32 {
  return ((r % SEGS) / SET_SEGS) * p.d;
}

// Element i of vector r of the input.
fn x_at(r: u32, i: u32) -> f32 {
  {{X_AT}}
}

// xhat, norm_apply and norm_stats (shaders/norm_row.wgsl).
{{NORM_ROW}}

//!kernel forward
// uniforms: rows, d, eps, x_stride, y_stride. tensors: x, gamma, [beta] (read); y, [mean], rstd (written).
// Grid: [ceil(rows / ROWS_PER_GROUP)].

fn beta(i: u32) -> f32 {
  {{BETA}}
}

fn save_mean(r: u32, v: f32) {
  {{SAVE_MEAN}}
}

fn save_x(i: u32, v: f32) {
  {{SAVE_X}}
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let slot = row_slot(wg.x, lid);
  let xb = x_base(slot.row);
  let shown = in_window(slot.row); // vectors outside the window are skipped
  // Corrected two-pass (LayerNorm): the deviations c from the first pass's mean0 are small, so their sum fixes the
  // rounding error of mean0 (up to d additions in a row when LANES = 1), and var = mean(c^2) - mean(c)^2 is the
  // variance around the corrected mean. RMSNorm: c = x, and the mean square is all it needs.
  let stats = shared_norm_stats(slot.row, p.d, p.eps, slot.lane, lid, shown);
  let mean = stats.x;
  let rstd = stats.y;
  if (slot.writes && shown) {
    let yb = y_base(slot.row);
    let gb = gain_base(slot.row);
    for (var i = slot.lane; i < p.d; i += LANES) {
      let x = x_at(slot.row, i);
      save_x(xb + i, x);
      write_y(yb + i, norm_apply(x, mean, rstd, read_gamma(gb + i), beta(gb + i)));
    }
    if (slot.lane == 0u) {
      save_mean(slot.row, mean);
      write_rstd(slot.row, rstd);
    }
  }
}

//!kernel backward
// uniforms: rows, d, x_stride, y_stride. tensors: dy, x, gamma, [mean], rstd, [residual] (read); dx, dgamma,
// [dbeta] (written). Grid: [ceil(rows / ROWS_PER_GROUP) + ceil(GAINS * d / COLS)]. dx must not overlap dy or
// x (other invocations still read them).

const COLS: u32 = WG / GAIN_LANES; // columns per gain-sum workgroup (GAIN_LANES: shaders/norm_row.wgsl)

fn row_mean(r: u32) -> f32 {
  {{MEAN}}
}

fn save_dbeta(i: u32, v: f32) {
  {{SAVE_DBETA}}
}

fn residual_grad(i: u32) -> f32 {
  {{RESIDUAL_GRAD}}
}

// dx = rstd * (gamma*dy - mean(gamma*dy) - xhat * mean(gamma*dy*xhat)), plus the residual gradient; RMSNorm
// has no mean(gamma*dy) term (its mean is a constant 0, not a function of x).
fn row_grad(group: u32, lid: u32) {
  let slot = row_slot(group, lid);
  let xb = x_base(slot.row);
  let yb = y_base(slot.row);
  let gb = gain_base(slot.row);
  let mean = row_mean(slot.row);
  let rstd = read_rstd(slot.row);
  let shown = in_window(slot.row);
  var s = vec2f(0.0);
  for (var i = slot.lane; i < p.d && shown; i += LANES) {
    let gdy = read_gamma(gb + i) * read_dy(yb + i);
    s += vec2f(gdy, gdy * xhat(read_x(xb + i), mean, rstd));
  }
  let m = lane_sum(s, lid, LANES) / f32(p.d);
  if (slot.writes) {
    for (var i = slot.lane; i < p.d; i += LANES) {
      if (!shown) {
        write_dx(xb + i, residual_grad(xb + i));
        continue;
      }
      let gdy = read_gamma(gb + i) * read_dy(yb + i);
      write_dx(xb + i, residual_grad(xb + i) + rstd * (gdy - select(0.0, m.x, CENTRED) - xhat(read_x(xb + i), mean, rstd) * m.y));
    }
  }
}

// dgamma[c] = sum dy * xhat, dbeta[c] = sum dy over the vectors that gain column c scales (gain c / d, element
// c % d) in the window, for the COLS columns of `block`. Spare columns past GAINS * d recompute the last one and
// write nothing.
const RUN: u32 = min(SET_SEGS, Y_SEGS); // segments of one outer row that a gain scales, in the window

// dy * xhat and dy of element i of vector r.
fn column_term(r: u32, i: u32) -> vec2f {
  let g = read_dy(y_base(r) + i);
  return vec2f(g * xhat(read_x(x_base(r) + i), row_mean(r), read_rstd(r)), g);
}

fn column_sums(block: u32, lid: u32) {
  let c = block * COLS + lid % COLS;
  let col = min(c, GAINS * p.d - 1u);
  let gain = col / p.d;
  let i = col % p.d;
  let lane = lid / COLS;
  var s = vec2f(0.0);
  if (Y_SEGS < SEGS) {
    // A window (one gain): lane l takes the vectors r = l, l + GAIN_LANES, ... in it, as it would for a dy of every
    // vector that is zero outside the window (zeros add nothing): the sums, in their order, of the norm of every
    // vector with dy scattered there.
    for (var r = lane; r < p.rows; r += GAIN_LANES) {
      if (in_window(r)) {
        s += column_term(r, i);
      }
    }
  } else {
    let n = (p.rows / SEGS) * RUN; // vectors per gain
    for (var k = lane; k < n; k += GAIN_LANES) {
      s += column_term((k / RUN) * SEGS + gain * SET_SEGS + Y_FIRST + k % RUN, i);
    }
  }
  let total = lane_sum(s, lid, GAIN_LANES);
  if (lid < COLS && c < GAINS * p.d) {
    write_dgamma(col, total.x);
    save_dbeta(col, total.y);
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row_groups = (p.rows + ROWS_PER_GROUP - 1u) / ROWS_PER_GROUP;
  if (wg.x < row_groups) {
    row_grad(wg.x, lid);
  } else {
    column_sums(wg.x - row_groups, lid);
  }
}
