// Entropy of each row of attention probabilities (src/analysis/attention-entropy.ts):
//   entropy[r] = -sum_j probs[r * keys + j] * ln probs[r * keys + j]   (nats), over the keys with p > 0
// for r < rows. A [batch, heads, queries, keys] probs tensor (shaders/attention.wgsl) is batch * heads * queries
// such rows; hidden keys hold exact zeros there and contribute nothing (0 ln 0 = 0), so a row that sees no key at
// all has entropy 0 (the caller leaves such rows out of any mean).
//
// Data layout: probs row-major [rows, keys]; entropy [rows]; both windows of buffers, read and written through the
// accessors generated at `//!bindings` (src/gpu/kernel-template.ts).
//
// Parallel decomposition: one invocation per row (keys <= 64 in every preset, so a row is a short serial float32
// sum), a 1-D grid of WG-wide workgroups; no barriers or workgroup memory.
//
// Template fills (src/analysis/attention-entropy.ts): {{WG}}.
// uniforms: rows, keys. tensors: probs (read), entropy (written).

//!bindings

const WG: u32 = {{WG}};

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= p.rows) {
    return;
  }
  var h = 0.0;
  for (var j = 0u; j < p.keys; j++) {
    let q = read_probs(r * p.keys + j);
    if (q > 0.0) {
      h -= q * log(q);
    }
  }
  write_entropy(r, h);
}
