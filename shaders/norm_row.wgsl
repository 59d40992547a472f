// One vector's LayerNorm or RMSNorm (shaders/layernorm.wgsl) as a single invocation computes it, and the tree
// reduction in workgroup memory whose order its sums follow, shared by the norm kernel and the kernels that normalise
// their own input or fold in its backward (the fused graph's matmuls and cross-entropy head, shaders/norm_grad.wgsl):
//   xhat(x, mean, rstd)                  (x - mean) * rstd
//   norm_apply(x, mean, rstd, g, b)      xhat * g + b, the norm's output element (b = 0 for RMSNorm)
//   norm_stats(r, d, eps) -> (mean, rstd) of vector r (mean 0 for RMSNorm), its elements read as x_at(r, i),
//                                         i < d: the corrected two-pass of layernorm.wgsl's forward, summed in
//                                         the order that kernel's NORM_LANES lanes and their tree reduction
//                                         (lane_sum) add them, so its bits are that kernel's on the same adapter.
//   shared_norm_stats(r, d, eps, lane, lid, counted)  the same, the NORM_LANES lanes computed by as many
//                                         invocations of the workgroup (layernorm.wgsl's forward, the grouped
//                                         cross-entropy head)
//   lane_sum(v, lid, lanes) -> vec2f     v summed over `lanes` invocations of the workgroup, in a fixed tree order
//   lane_tree(&parts) -> vec2f           NORM_LANES partial sums added in that tree's order by one invocation
// and GAIN_LANES, the lanes of each gain column in the norm's backward.
// Layout: none of its own; the including kernel defines x_at(r, i) (element i of vector r), and the constants
// CENTRED (true: LayerNorm, false: RMSNorm), NORM_LANES (layernorm.wgsl's LANES for the norm kernel variant this
// adapter runs: 1, or WG = 64; a power of two) and NORM_WG (its own workgroup size, for lane_sum's workgroup memory,
// which only a kernel that calls lane_sum holds). Inserted where the including kernel has the NORM_ROW fill.

// Invocations that share a gain column of a norm's backward (its dgamma and dbeta sums): NORM_LANES, at most 8.
const GAIN_LANES: u32 = min(NORM_LANES, 8u);

fn xhat(x: f32, mean: f32, rstd: f32) -> f32 {
  return (x - mean) * rstd;
}

fn norm_apply(x: f32, mean: f32, rstd: f32, g: f32, b: f32) -> f32 {
  return xhat(x, mean, rstd) * g + b;
}

var<workgroup> lane_partial: array<vec2f, NORM_WG>;

// Sums v over the `lanes` invocations whose index is congruent to lid modulo NORM_WG / lanes (lanes a power of two
// dividing NORM_WG; NORM_WG sums the whole workgroup): at each level s, invocation lid < s takes lid + s. The tree order
// is fixed, so results are bitwise reproducible. Every invocation of the workgroup must call it with the same,
// constant, lanes; with lanes = 1 it returns v and the workgroup memory and barriers compile away.
fn lane_sum(v: vec2f, lid: u32, lanes: u32) -> vec2f {
  if (lanes == 1u) {
    return v;
  }
  let width = NORM_WG / lanes;
  lane_partial[lid] = v;
  workgroupBarrier();
  for (var s = NORM_WG / 2u; s >= width; s >>= 1u) {
    if (lid < s) {
      lane_partial[lid] += lane_partial[lid + s];
    }
    workgroupBarrier();
  }
  let total = lane_partial[lid % width];
  workgroupBarrier(); // every invocation has its result before a later call overwrites `lane_partial`
  return total;
}

// The sums of lane l (elements i = l, l + NORM_LANES, ...) of vector r: of x (.x) when `first`, else of c = x - mean0
// and c^2.
fn lane_moments(r: u32, d: u32, l: u32, first: bool, mean0: f32) -> vec2f {
  var q = vec2f(0.0);
  for (var i = l; i < d; i += NORM_LANES) {
    if (first) {
      q.x += x_at(r, i);
    } else {
      let c = x_at(r, i) - mean0;
      q += vec2f(c, c * c);
    }
  }
  return q;
}

// The lanes' sums added as lane_sum's tree adds them: at each level s, lane l < s takes lane l + s. One lane: its sums
// alone, with no array (SwiftShader runs a private array slowly).
fn lanes_sum(r: u32, d: u32, first: bool, mean0: f32) -> vec2f {
  if (NORM_LANES == 1u) {
    return lane_moments(r, d, 0u, first, mean0);
  }
  var parts: array<vec2f, NORM_LANES>;
  for (var l = 0u; l < NORM_LANES; l++) {
    parts[l] = lane_moments(r, d, l, first, mean0);
  }
  return lane_tree(&parts);
}

// The lanes' partial sums added as lane_sum's tree adds them (the order both a norm's statistics and its backward's
// sums follow): at each level s, lane l < s takes lane l + s; lane 0 ends with the total.
fn lane_tree(parts: ptr<function, array<vec2f, NORM_LANES>>) -> vec2f {
  for (var s = NORM_LANES / 2u; s >= 1u; s >>= 1u) {
    for (var l = 0u; l < s; l++) {
      (*parts)[l] += (*parts)[l + s];
    }
  }
  return (*parts)[0];
}

fn norm_stats(r: u32, d: u32, eps: f32) -> vec2f {
  var mean0 = 0.0;
  if (CENTRED) {
    mean0 = lanes_sum(r, d, true, 0.0).x / f32(d);
  }
  return stats_of_moments(mean0, lanes_sum(r, d, false, mean0) / f32(d), eps);
}

// norm_stats with its lanes computed in parallel: the NORM_LANES invocations that share vector r are congruent modulo
// NORM_WG / NORM_LANES (what lane_sum adds up), and the one with lid / (NORM_WG / NORM_LANES) = lane sums elements
// lane, lane + NORM_LANES, ... Every invocation of the workgroup must call it (lane_sum's barriers); those with `counted`
// false add nothing to the sums (their vector's result is not to be used).
fn shared_norm_stats(r: u32, d: u32, eps: f32, lane: u32, lid: u32, counted: bool) -> vec2f {
  let n = select(0u, d, counted);
  var mean0 = 0.0;
  if (CENTRED) {
    mean0 = lane_sum(lane_moments(r, n, lane, true, 0.0), lid, NORM_LANES).x / f32(d);
  }
  return stats_of_moments(mean0, lane_sum(lane_moments(r, n, lane, false, mean0), lid, NORM_LANES) / f32(d), eps);
}

// (mean, rstd) from the first pass's mean0 and the second's mean deviation and mean square m around it.
fn stats_of_moments(mean0: f32, m: vec2f, eps: f32) -> vec2f {
  return vec2f(select(0.0, mean0 + m.x, CENTRED), 1.0 / sqrt(select(m.y, m.y - m.x * m.x, CENTRED) + eps));
}
