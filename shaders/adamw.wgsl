// Gradient clipping + AdamW over the whole flat parameter buffer, PyTorch semantics
// (clip_grad_norm_ then torch.optim.AdamW):
//   norm = sqrt(sum g^2);  coef = min(1, maxNorm / (norm + 1e-6));  g <- g * coef
//   theta <- theta - lr*wd*theta                     (decoupled decay, on the parameters the mask selects)
//   m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2
//   theta <- theta - (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
// The bias corrections (stepSize = lr / bc1, sqrtBc2) are computed on the CPU in float64 each step.
//
// Layout: theta, grads, m, v [n] f32 from element 0, the same flat layout; partials [numPartials] from
// shaders/reduce.wgsl (sums of g^2); gradNorm[p.normOffset] receives the pre-clip norm. theta, m and v
// are updated in place (each bound once, read_write); grads is only read.
//
// Decay mask: element i is decayed when bit i & 31 of decayMask[i >> 5] is set, and gets no decay at all
// otherwise (lrWd 0: its decay part is a signed zero and theta + decayPart = theta). Low-Rank Decay
// (src/train/decay.ts) clears the bits of the matrices it takes over; every other run sets all n bits. The
// decayed elements' arithmetic is the same as without a mask, so a full mask changes nothing.
//
// Gradient/decay split (the spectral edge, docs/science.md §2.5): for the tracked slice [splitStart, splitStart + splitCount)
// the step's decay part and Adam part are added into split[j] and split[splitCount + j], j = i - splitStart, so
// that over a window they sum (to float32 rounding) to the slice's change. splitCount = 0 turns it off. It is one
// kernel either way, not a variant: GPU compilers fuse differently when decayPart and adamPart have extra uses
// (an H100 trained measurably differently), and tracking the edge must not change training.
//
// Parallel decomposition: every thread first adds the few partials itself, serially in index order, so
// all threads get the bit-identical norm with no synchronisation at all (no barrier: software adapters
// pay dearly for those, and on a GPU the loads are uniform across the workgroup, served from cache);
// thread 0 writes the norm out. Then a grid-stride loop over the elements, so a capped grid covers any n.

const WG: u32 = 256u;

struct Params {
  n: u32,
  numPartials: u32,
  normOffset: u32,
  maxNorm: f32,
  lrWd: f32,
  beta1: f32,
  beta2: f32,
  stepSize: f32,
  sqrtBc2: f32,
  eps: f32,
  splitStart: u32,
  splitCount: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> theta: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read> partials: array<f32>;
@group(0) @binding(6) var<storage, read_write> gradNorm: array<f32>;
@group(0) @binding(7) var<storage, read_write> split: array<f32>;
@group(0) @binding(8) var<storage, read> decayMask: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  var sumSq = 0.0;
  for (var k = 0u; k < p.numPartials; k++) { sumSq += partials[k]; }
  let norm = sqrt(sumSq);
  if (gid.x == 0u) { gradNorm[p.normOffset] = norm; }
  // min(1, maxNorm / (norm + 1e-6)) written as a select so that a NaN norm yields a NaN coefficient, as
  // torch.clamp does (WGSL's min may return the non-NaN operand, which would hide the NaN).
  let coef = select(p.maxNorm / (norm + 1e-6), 1.0, norm + 1e-6 <= p.maxNorm);

  for (var i = gid.x; i < p.n; i += nwg.x * WG) {
    let g = grads[i] * coef;
    let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    // The step's change is decayPart + adamPart, kept apart for the spectral edge's gradient/decay split.
    let before = theta[i];
    let lrWd = select(0.0, p.lrWd, ((decayMask[i >> 5u] >> (i & 31u)) & 1u) == 1u);
    let decayPart = -lrWd * before;
    let adamPart = -p.stepSize * mi / (sqrt(vi) / p.sqrtBc2 + p.eps);
    theta[i] = (before + decayPart) + adamPart;
    let j = i - p.splitStart; // wraps around below the slice, so one comparison tests both ends
    if (j < p.splitCount) {
      split[j] += decayPart;
      split[p.splitCount + j] += adamPart;
    }
  }
}
