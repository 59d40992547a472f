// Token + learned position embedding, forward and backward.
//   forward:  emb[b*T + t, :] = tok_emb[tokens[b*T + t], :] + pos_emb[t, :]
//   backward: d_tok[v, :] = sum of d_out over the positions holding token v, in increasing order of position;
//             d_pos[t, :] = sum over the batch of d_out[b*T + t, :], for t < T (rows t >= T are not written);
//             each summed by SUM_LANES lanes, lane l taking every SUM_LANES-th term from the l-th, their sums then
//             added in lane_sum's tree (shaders/norm_row.wgsl); one lane (software adapters) adds them all in order
// Token ids >= vocab contribute a zero token embedding and receive no gradient, so a bad id never reads
// another tensor's memory.
//
// Data layout: tokens u32 [batch * T]; tok_emb, d_tok [vocab, d]; pos_emb, d_pos [>= T, d]; emb, d_out
// [batch * T, d]; all row-major, each a window of some buffer read and written through the accessors
// generated at `//!bindings` (src/gpu/kernel-template.ts). The backward reads the batch's tokens as token_order u32
// [vocab + 1 + batch * T], made on the CPU with the batch (src/model/ops/embedding.ts, tokenOrder): offsets [vocab + 1],
// then the positions holding token 0, those holding token 1, ..., each run in increasing order; the positions of token
// v are entries offsets[v] .. offsets[v + 1] - 1 of the list. So each d_tok thread walks its own token's positions
// only (the same additions, in the same order, as scanning every position for its token).
//
// Gain sums (backward, the fused graph on GPUs): the dispatch may also sum the gain gradients of the norm that reads the
// embeddings (the first norm of the stack: its dx is d_out), dgamma (and dbeta) [d] over its rows of dy [batch * T, d],
// x, mean and rstd, as shaders/norm_grad.wgsl does (the norm kernel's order and bits on this adapter).
//
// Parallel decomposition: the forward, one thread per output element, grid [ceil(d / WG), output rows]. The backward
// is one dispatch, grid [ceil(d / SUM_COLS), rows]: grid rows [0, vocab) are d_tok rows and [vocab, vocab + T) d_pos
// rows (and the rows after them the gain sums' workgroups, x first, when it sums them); SUM_LANES threads share each
// output element (one on software adapters, whose barriers are dear; more on GPUs, where a long run of dependent
// loads in one thread would set the dispatch's time: a Dyck token's ~600 positions, a modarith position's batch of
// 512), each looping over its share of the positions in a fixed order: deterministic, no atomics. Outputs are
// written, not accumulated.
//
// Template fills (src/model/ops/embedding.ts): {{WG}}; in the backward, SUM_LANES, shaders/norm_row.wgsl and
// norm_grad.wgsl (NORM_ROW, NORM_GRAD_ROW) with their NORM_LANES and CENTRED, and GAIN_FUNCTIONS
// (src/model/ops/layernorm.ts, gainSumsHost: x_at, the window functions, gain_dims and stand-ins for the gain sums'
// tensors where it sums none).

//!bindings

const WG: u32 = {{WG}};

//!kernel forward
// uniforms: seq_len, d, vocab. tensors: tokens, tok_emb, pos_emb (read); emb (written).

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let col = gid.x;
  let row = gid.y;
  if (col >= p.d) {
    return;
  }
  let token = read_tokens(row);
  var v = read_pos_emb((row % p.seq_len) * p.d + col);
  if (token < p.vocab) {
    v += read_tok_emb(token * p.d + col);
  }
  write_emb(row * p.d + col, v);
}

//!kernel backward
// uniforms: batch, seq_len, d, vocab. tensors: token_order, d_out (read); d_tok, d_pos (written); with gain sums dy,
// x, [mean], rstd (read), dgamma, [dbeta] (written).

const SUM_LANES: u32 = {{SUM_LANES}};  // invocations that share an output element's sum
const SUM_COLS: u32 = WG / SUM_LANES;   // output columns per workgroup
const NORM_LANES: u32 = {{NORM_LANES}};
const CENTRED: bool = {{CENTRED}};
const NORM_WG: u32 = WG;
{{GAIN_FUNCTIONS}}

{{NORM_ROW}}

{{NORM_GRAD_ROW}}

// Invocation lid of workgroup (x, y): lane lid / SUM_COLS of column x * SUM_COLS + lid % SUM_COLS of output row y.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let first_gain_row = p.vocab + p.seq_len;
  if (wg.y >= first_gain_row) {
    norm_gain_sums((wg.y - first_gain_row) * nwg.x + wg.x, lid, gain_dims().x, gain_dims().y);
    return;
  }
  let lane = lid / SUM_COLS;
  let c = wg.x * SUM_COLS + lid % SUM_COLS;
  let col = min(c, p.d - 1u);  // spare invocations past the last column recompute it and write nothing
  let token_row = wg.y < p.vocab;
  var s = 0.0;
  if (token_row) {
    let positions = p.vocab + 1u;  // where the list of positions starts
    for (var i = read_token_order(wg.y) + lane; i < read_token_order(wg.y + 1u); i += SUM_LANES) {
      s += read_d_out(read_token_order(positions + i) * p.d + col);
    }
  } else {
    for (var b = lane; b < p.batch; b += SUM_LANES) {
      s += read_d_out((b * p.seq_len + wg.y - p.vocab) * p.d + col);
    }
  }
  let total = lane_sum(vec2f(s, 0.0), lid, SUM_LANES).x;
  if (lane == 0u && c < p.d) {
    if (token_row) {
      write_d_tok(wg.y * p.d + col, total);
    } else {
      write_d_pos((wg.y - p.vocab) * p.d + col, total);
    }
  }
}
