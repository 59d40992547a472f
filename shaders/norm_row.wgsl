// One vector's LayerNorm or RMSNorm (shaders/layernorm.wgsl) as a single invocation computes it, shared by the norm
// kernel and the kernels that normalise their own input (the fused graph's cross-entropy head,
// shaders/cross_entropy.wgsl):
//   xhat(x, mean, rstd)                  (x - mean) * rstd
//   norm_apply(x, mean, rstd, g, b)      xhat * g + b, the norm's output element (b = 0 for RMSNorm)
//   norm_stats(r, d, eps) -> (mean, rstd) of vector r (mean 0 for RMSNorm), its elements read as x_at(r, i),
//                                         i < d: the corrected two-pass of layernorm.wgsl's forward, summed in
//                                         the order that kernel's NORM_LANES lanes and their tree reduction
//                                         (lane_sum) add them, so its bits are that kernel's on the same adapter.
// Layout: none of its own; the including kernel defines x_at(r, i) (element i of vector r), and the constants
// CENTRED (true: LayerNorm, false: RMSNorm) and NORM_LANES (layernorm.wgsl's LANES for the norm kernel variant
// this adapter runs: 1, or WG = 64; a power of two). Inserted where the including kernel has the NORM_ROW fill.

fn xhat(x: f32, mean: f32, rstd: f32) -> f32 {
  return (x - mean) * rstd;
}

fn norm_apply(x: f32, mean: f32, rstd: f32, g: f32, b: f32) -> f32 {
  return xhat(x, mean, rstd) * g + b;
}

// The per-lane partial sums of NORM_LANES lanes added as lane_sum's tree adds them: at each level s, lane l < s
// takes lane l + s.
fn lanes_tree(parts: ptr<function, array<vec2f, NORM_LANES>>) -> vec2f {
  for (var s = NORM_LANES / 2u; s >= 1u; s >>= 1u) {
    for (var l = 0u; l < s; l++) {
      (*parts)[l] += (*parts)[l + s];
    }
  }
  return (*parts)[0];
}

fn norm_stats(r: u32, d: u32, eps: f32) -> vec2f {
  var parts: array<vec2f, NORM_LANES>;
  var mean0 = 0.0;
  if (CENTRED) {
    for (var l = 0u; l < NORM_LANES; l++) {
      var s = 0.0;
      for (var i = l; i < d; i += NORM_LANES) {
        s += x_at(r, i);
      }
      parts[l] = vec2f(s, 0.0);
    }
    mean0 = lanes_tree(&parts).x / f32(d);
  }
  for (var l = 0u; l < NORM_LANES; l++) {
    var q = vec2f(0.0);
    for (var i = l; i < d; i += NORM_LANES) {
      let c = x_at(r, i) - mean0;
      q += vec2f(c, c * c);
    }
    parts[l] = q;
  }
  let m = lanes_tree(&parts) / f32(d);
  return vec2f(select(0.0, mean0 + m.x, CENTRED), 1.0 / sqrt(select(m.y, m.y - m.x * m.x, CENTRED) + eps));
}
