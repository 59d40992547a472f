// The backward of one row-major LayerNorm or RMSNorm [rows, d] (shaders/layernorm.wgsl's backward, SEGS = 1) as single
// invocations compute it, for the kernels that fold the norm's backward into work they do anyway (the fused graph on
// GPUs: the matmul whose C is the norm's dy computes dx in its epilogue, and a later dispatch the gain sums):
//   norm_grad_sums(r, d) -> (mean over i of gamma*dy, mean of gamma*dy*xhat) of row r (.x unused by RMSNorm)
//   norm_grad_dx(r, i, d, m, residual) -> dx[r, i] = residual + rstd * (gamma*dy - m.x - xhat * m.y) (no m.x: RMSNorm)
//   norm_gain_sums(col, rows, d) -> (dgamma, dbeta)[col] = (sum over rows of dy * xhat, sum of dy)
// each summed in the order in which layernorm.wgsl's lanes and its tree reduction (lane_sum) add them on the adapter
// whose norm kernel variant has NORM_LANES lanes per row (and min(NORM_LANES, 8) per gain column), with the same
// float32 expressions, so the bits are that kernel's on the same adapter.
// Layout: row r's element i of dy at r * d + i (read_dy), of x as x_at(r, i); gamma [d] (read_gamma); mean (LayerNorm)
// and rstd [rows] (read_mean, read_rstd). The including kernel defines those, the constants CENTRED and NORM_LANES, and
// includes shaders/norm_row.wgsl (xhat) before this; inserted where it has the NORM_GRAD fill.

// Lane l's sums of row r (elements i = l, l + NORM_LANES, ...): gamma*dy and gamma*dy*xhat.
fn grad_lane_sums(r: u32, d: u32, l: u32, mean: f32, rstd: f32) -> vec2f {
  var s = vec2f(0.0);
  for (var i = l; i < d; i += NORM_LANES) {
    let gdy = read_gamma(i) * read_dy(r * d + i);
    s += vec2f(gdy, gdy * xhat(x_at(r, i), mean, rstd));
  }
  return s;
}

fn norm_grad_sums(r: u32, d: u32) -> vec2f {
  let mean = read_mean(r);
  let rstd = read_rstd(r);
  if (NORM_LANES == 1u) {
    return grad_lane_sums(r, d, 0u, mean, rstd) / f32(d);
  }
  var parts: array<vec2f, NORM_LANES>;
  for (var l = 0u; l < NORM_LANES; l++) {
    parts[l] = grad_lane_sums(r, d, l, mean, rstd);
  }
  for (var s = NORM_LANES / 2u; s >= 1u; s >>= 1u) {
    for (var l = 0u; l < s; l++) {
      parts[l] += parts[l + s];
    }
  }
  return parts[0] / f32(d);
}

fn norm_grad_dx(r: u32, i: u32, d: u32, m: vec2f, residual: f32) -> f32 {
  let gdy = read_gamma(i) * read_dy(r * d + i);
  return residual + read_rstd(r) * (gdy - select(0.0, m.x, CENTRED) - xhat(x_at(r, i), read_mean(r), read_rstd(r)) * m.y);
}

const GAIN_LANES: u32 = min(NORM_LANES, 8u); // layernorm.wgsl's COL_LANES

// Lane l's sums of gain column col (rows k = l, l + GAIN_LANES, ...): dy * xhat and dy.
fn gain_lane_sums(col: u32, rows: u32, d: u32, l: u32) -> vec2f {
  var s = vec2f(0.0);
  for (var k = l; k < rows; k += GAIN_LANES) {
    let g = read_dy(k * d + col);
    s += vec2f(g * xhat(x_at(k, col), read_mean(k), read_rstd(k)), g);
  }
  return s;
}

fn norm_gain_sums(col: u32, rows: u32, d: u32) -> vec2f {
  if (GAIN_LANES == 1u) {
    return gain_lane_sums(col, rows, d, 0u);
  }
  var parts: array<vec2f, GAIN_LANES>;
  for (var l = 0u; l < GAIN_LANES; l++) {
    parts[l] = gain_lane_sums(col, rows, d, l);
  }
  for (var s = GAIN_LANES / 2u; s >= 1u; s >>= 1u) {
    for (var l = 0u; l < s; l++) {
      parts[l] += parts[l + s];
    }
  }
  return parts[0];
}
