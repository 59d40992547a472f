// The backward of one row-major LayerNorm or RMSNorm [rows, d] (shaders/layernorm.wgsl's backward, SEGS = 1) as one
// invocation a row and one workgroup of gain columns compute it, for the kernels that fold the norm's backward into work
// they do anyway (the fused graph on GPUs: the matmul whose C is the norm's dy computes dx in its epilogue, and a later
// dispatch the gain sums):
//   norm_grad_sums(r, d) -> (mean over i of gamma*dy, mean of gamma*dy*xhat) of dy row r (.x unused by RMSNorm)
//   norm_grad_dx(r, i, d, m, residual) -> dx[x_row(r), i] = residual + rstd * (gamma*dy - m.x - xhat * m.y) (no m.x:
//                                         RMSNorm)
//   norm_gain_sums(block, lid, rows, d)  writes (dgamma, dbeta)[col] = (sum over the rows of dy of dy * xhat, sum of
//                                         dy) for the GAIN_COLS columns col of workgroup `block`, GAIN_LANES
//                                         invocations each, as layernorm.wgsl's backward spreads its gain columns
// each summed in the order in which layernorm.wgsl's lanes and their tree reduction (norm_row.wgsl's lane_sum) add
// them on the adapter whose norm kernel variant has NORM_LANES lanes per row (and GAIN_LANES per gain column), with
// the same float32 expressions, so the bits are that kernel's on the same adapter.
// Layout: dy [rows, d] row-major (read_dy); its row r is the gradient of the norm's output row x_row(r), whose input
// element i is x_at(x_row(r), i) and statistics read_mean(x_row(r)) (LayerNorm) and read_rstd(x_row(r)); gamma [d]
// (read_gamma). x_row(r) is r, or for a norm of some positions of each sequence (the final norm of a model read out at
// some: layernorm.wgsl's window) (r / count) * seq_len + start + r % count; dy_row(xr) is its inverse (0xffffffff for
// an x row outside the window) and x_rows(rows) the rows of x (src/model/ops/layernorm.ts, windowFunctions). Under a
// window the gain sums' lanes take x's rows, as for a dy of every row that is zero outside the window (zeros add
// nothing): the sums, in their order, of the norm of every row with dy scattered there. The gain sums write dgamma
// and dbeta [d] (write_dgamma, write_dbeta), and meet workgroup barriers (GAIN_LANES > 1), so every invocation of the
// workgroup calls norm_gain_sums, with the same block. The including kernel defines those, the constants CENTRED,
// NORM_LANES and NORM_WG (its workgroup size), and includes shaders/norm_row.wgsl (xhat, lane_tree, lane_sum) before
// this; inserted where it has the NORM_GRAD_ROW fill.

// Lane l's sums of row r (elements i = l, l + NORM_LANES, ...): gamma*dy and gamma*dy*xhat.
fn grad_lane_sums(r: u32, d: u32, l: u32, mean: f32, rstd: f32) -> vec2f {
  let xr = x_row(r);
  var s = vec2f(0.0);
  for (var i = l; i < d; i += NORM_LANES) {
    let gdy = read_gamma(i) * read_dy(r * d + i);
    s += vec2f(gdy, gdy * xhat(x_at(xr, i), mean, rstd));
  }
  return s;
}

fn norm_grad_sums(r: u32, d: u32) -> vec2f {
  let mean = read_mean(x_row(r));
  let rstd = read_rstd(x_row(r));
  if (NORM_LANES == 1u) {
    return grad_lane_sums(r, d, 0u, mean, rstd) / f32(d);
  }
  var parts: array<vec2f, NORM_LANES>;
  for (var l = 0u; l < NORM_LANES; l++) {
    parts[l] = grad_lane_sums(r, d, l, mean, rstd);
  }
  return lane_tree(&parts) / f32(d);
}

fn norm_grad_dx(r: u32, i: u32, d: u32, m: vec2f, residual: f32) -> f32 {
  let xr = x_row(r);
  let gdy = read_gamma(i) * read_dy(r * d + i);
  return residual + read_rstd(xr) * (gdy - select(0.0, m.x, CENTRED) - xhat(x_at(xr, i), read_mean(xr), read_rstd(xr)) * m.y);
}

const GAIN_COLS: u32 = NORM_WG / GAIN_LANES; // gain columns per workgroup (GAIN_LANES: shaders/norm_row.wgsl)

// Lane l's sums of gain column col (x rows xr = l, l + GAIN_LANES, ... in the window): dy * xhat and dy.
fn gain_lane_sums(col: u32, rows: u32, d: u32, l: u32) -> vec2f {
  var s = vec2f(0.0);
  for (var xr = l; xr < x_rows(rows); xr += GAIN_LANES) {
    let k = dy_row(xr);
    if (k == 0xffffffffu) {
      continue;
    }
    let g = read_dy(k * d + col);
    s += vec2f(g * xhat(x_at(xr, col), read_mean(xr), read_rstd(xr)), g);
  }
  return s;
}

// Spare invocations past the last column recompute it and write nothing; a block past every column returns at once.
fn norm_gain_sums(block: u32, lid: u32, rows: u32, d: u32) {
  if (block * GAIN_COLS >= d) {
    return;
  }
  let c = block * GAIN_COLS + lid % GAIN_COLS;
  let col = min(c, d - 1u);
  // Lane lid / GAIN_COLS of column lid % GAIN_COLS; lane_sum adds the lanes of each column.
  let total = lane_sum(gain_lane_sums(col, rows, d, lid / GAIN_COLS), lid, GAIN_LANES);
  if (lid < GAIN_COLS && c < d) {
    write_dgamma(col, total.x);
    write_dbeta(col, total.y);
  }
}
