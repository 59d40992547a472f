// Multi-head scaled dot-product attention, forward and backward (torch.nn.MultiheadAttention semantics,
// no dropout). Per batch b and head h, with scale = 1/sqrt(head_dim):
//   forward:  S = scale Q K^T (hidden keys left out),  P = softmax_rows(S) (max-subtracted),  O = P V
//   backward: dP = dO V^T,  D = rowsum(P * dP),  dS = P * (dP - D),
//             dQ = scale dS K,  dK = scale dS^T Q,  dV = P^T dO
// A query that sees no key (all masked) gets P = 0, O = 0 and zero gradient (PyTorch would give NaN).
//
// Data layout (row-major; every tensor is a window of some buffer, read and written through the accessors
// generated at `//!bindings` by src/gpu/kernel-template.ts; element indices below count from the window):
//   q, dq           row t of batch b, head h, column c at (b*tq + t)*q_stride + h*head_dim + c
//   k, dk           row j at (b*tk + j)*k_stride + h*head_dim + c
//   v, dv           row j at (b*tk + j)*v_stride + h*head_dim + c
//   out, dout       row t at (b*tq + t)*out_stride + h*head_dim + c
//   probs, ds       [batch, n_heads, tq, tk] (ds: scale * dS, the backward's scratch)
//   key_valid       u32 [batch * tk], 0 = PAD key (forward only; the backward needs no mask input because
//                   P is exactly 0 wherever a key is hidden)
// Self-attention passes q, k, v as the three column blocks of one fused qkv tensor (stride 3d), or with
// QK-norm q and k from the normalised q|k tensor (stride 2d) and v from qkv; because Q, K and V have separate
// windows and strides, and Q and K/V separate lengths (tq, tk), cross-attention fits the same kernels.
//
// Parallel decomposition. Sequences are short (tk <= 64 in every preset), so each invocation owns whole
// rows: it keeps a row of scores and a row of Q or dO in private arrays and works through head columns 4 at
// a time (vec4), which is what makes a CPU driver fast. Rows are handed out in aligned groups of 4 (row
// counts rounded up to a multiple of 4; the extra "phantom" rows compute on a clamped row and store
// nothing), and causal loops run to the end of the group's last row, the finer mask applied by the zero
// weights of hidden keys. That keeps the 4 lanes of a SwiftShader subgroup (the CPU driver CI runs on) in
// step on one (batch, head), so its loads of K, V and the private arrays take the broadcast or vector path
// instead of a per-lane gather. No kernel has a barrier or workgroup memory: SwiftShader runs every 4-lane
// subgroup of a workgroup that has a barrier as a coroutine, at ~0.3-2 ms a workgroup, which made the
// former one-workgroup-per-(batch, head) backward cost most of a small training step.
//   forward:  one invocation per (batch, head, query row), flattened over a 1-D grid of WG-wide workgroups.
//             Scores, max-subtracted exponentials and their sum stay in the private row; then out = P V,
//             4 columns at a time, and the row of probs.
//   backward: two dispatches over the same kind of 1-D grid, the second reading what the first wrote.
//             backward_rows, one invocation per (batch, head, query row): the dP row, D, the scale*dS row
//             (kept private and stored to a scratch ds laid out like probs), and dQ of the row.
//             backward_keys, one invocation per (batch, head, key): dK and dV of the key, summed over the
//             query rows that see it from ds and probs. Every output element has one owner that writes it
//             once, so the result is deterministic without atomics, and no tile limits tk.
//             backward_heads (short sequences, one dispatch): one invocation per (batch, head) runs
//             backward_row for each of its query rows and then backward_key for each of its keys, the very
//             functions of the two sections above, so its results are theirs bit for bit.
//
// Template fills (src/model/ops/attention.ts): WG, the workgroup size (a multiple of 4); KEY_CAP and
// DH_CAP, private-array capacities (>= tk; >= head_dim and a multiple of 4); in the forward KEY_VALID, the
// body of key_valid(b, j): `return true;` (and in the backward sections) or a read of key_valid; in every section HEAD_LOADERS, the vec4
// loaders q4/k4/v4/dout4, and ABSENT_ACCESSORS, stand-ins for the accessors of the tensors the section does not
// bind that the shared backward functions call; ATTENTION_ROW, shaders/attention_row.wgsl.

//!bindings

const WG: u32 = {{WG}};
const KEY_CAP: u32 = {{KEY_CAP}};
const DH_CAP: u32 = {{DH_CAP}};

// round_up4, group_key_end, the row offsets q_row .. probs_row, row_owner, head_chunks, col, zero_past_head and
// forward_row (shaders/attention_row.wgsl).
{{ATTENTION_ROW}}

// Whether key j of batch b may be seen (forward_row; the backward sections, which never call it, hold no mask).
fn key_valid(b: u32, j: u32) -> bool {
  {{KEY_VALID}}
}

{{HEAD_LOADERS}}
// Stand-ins for the accessors of tensors this section does not bind (reached only from code it never runs).
{{ABSENT_ACCESSORS}}

// ---- The backward of one query row and of one key, shared by the backward sections. ----

// backward_row (shaders/attention_row.wgsl), and:
// dK and dV of key j (< round_up4(tk)) of batch b, head h, summed over the query rows that see it from ds and
// probs (which backward_row wrote for those rows).
fn backward_key(b: u32, h: u32, j: u32) {
  let key = min(j, p.tk - 1u); // phantom keys redo the last key and store nothing
  let chunks = head_chunks();
  // Under the causal mask only queries i >= j see key j: the loop starts at the group's first key, and the
  // rows in between hold dS = P = 0 for the later keys of the group (backward_row wrote them).
  let first = select(0u, min(j & ~3u, p.tq), p.causal != 0u);
  let kj = k_row(b, key, h);
  let vj = v_row(b, key, h);
  for (var c4 = 0u; c4 < chunks; c4++) {
    var dk = vec4f(0.0);
    var dv = vec4f(0.0);
    for (var i = first; i < p.tq; i++) {
      let e = probs_row(b, h, i) + key;
      dk += read_ds(e) * q4(q_row(b, i, h), 4u * c4);
      dv += read_probs(e) * dout4(out_row(b, i, h), 4u * c4);
    }
    for (var u = 0u; u < 4u && j < p.tk && 4u * c4 + u < p.head_dim; u++) {
      write_dk(kj + 4u * c4 + u, dk[u]);
      write_dv(vj + 4u * c4 + u, dv[u]);
    }
  }
}

//!kernel forward
// uniforms: batch, tq, tk, n_heads, head_dim, scale, causal, q_stride, k_stride, v_stride, out_stride.
// tensors: q, k, v, key_valid (when masking keys) (read); probs, out (written).
// Grid: [ceil(batch * n_heads * round_up4(tq) / WG)].

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.batch * p.n_heads * round_up4(p.tq)) {
    return;
  }
  let owner = row_owner(gid.x, p.tq);
  forward_row(owner.z, owner.y, owner.x);
}

//!kernel backward_rows
// uniforms: batch, tq, tk, n_heads, head_dim, scale, causal, q_stride, k_stride, v_stride, out_stride.
// tensors: k, v, probs, dout (read); dq, ds (written).
// Grid: [ceil(batch * n_heads * round_up4(tq) / WG)].

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.batch * p.n_heads * round_up4(p.tq)) {
    return;
  }
  let owner = row_owner(gid.x, p.tq);
  backward_row(owner.z, owner.y, owner.x);
}

//!kernel backward_keys
// uniforms: batch, tq, tk, n_heads, head_dim, causal, q_stride, k_stride, v_stride, out_stride.
// tensors: q, probs, dout, ds (read); dk, dv (written); with gain sums, theirs.
// Grid: [ceil(batch * n_heads * round_up4(tk) / WG) + the gain sums' workgroups].

// Gain sums beside the keys (the fused graph on GPUs: the gains of the norm whose dx the product before this dispatch
// computed): the workgroups past the keys', as shaders/norm_grad.wgsl sums them (src/model/ops/layernorm.ts,
// gainSumsHost: GAIN_FUNCTIONS, with gain_dims() zero and nothing bound when there are none).
const NORM_LANES: u32 = {{NORM_LANES}};
const NORM_WG: u32 = WG;
const CENTRED: bool = {{CENTRED}};
{{GAIN_FUNCTIONS}}

{{NORM_ROW}}

{{NORM_GRAD_ROW}}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let keys = p.batch * p.n_heads * round_up4(p.tk);
  let key_groups = (keys + WG - 1u) / WG;
  if (wg.x >= key_groups) {
    norm_gain_sums(wg.x - key_groups, lid, gain_dims().x, gain_dims().y);
    return;
  }
  if (gid.x >= keys) {
    return;
  }
  let owner = row_owner(gid.x, p.tk);
  backward_key(owner.z, owner.y, owner.x);
}

//!kernel backward_heads
// Short sequences: the whole backward of one (batch, head) in one invocation, so that it takes one dispatch: every
// query row as backward_rows computes it, then every key as backward_keys does, reading back the ds this invocation
// stored (same results, bit for bit).
// uniforms: as backward_rows. tensors: q, k, v, probs, dout (read); dq, ds, dk, dv (written).
// Grid: [ceil(batch * n_heads / WG)].

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.batch * p.n_heads) {
    return;
  }
  let h = gid.x % p.n_heads;
  let b = gid.x / p.n_heads;
  for (var i = 0u; i < p.tq; i++) {
    backward_row(b, h, i);
  }
  for (var j = 0u; j < p.tk; j++) {
    backward_key(b, h, j);
  }
}
