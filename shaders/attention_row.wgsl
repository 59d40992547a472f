// One query row of multi-head attention's forward and backward as one invocation computes it (shaders/attention.wgsl, whose
// header gives the semantics and the layout), shared by the attention kernel and the kernel that computes attention
// as it loads its input or in its epilogue (the fused graph's output projection on GPUs, shaders/matmul.wgsl):
//   forward_row(b, h, i)    the probs row and the out row of query row i of batch b, head h
//   backward_row(b, h, i)   the backward's scale * dS row (to ds) and dQ row of query row i, from dout, V, K and probs
// and the row and owner arithmetic they use. The including kernel has the uniforms batch, tq, tk, n_heads, head_dim,
// scale, causal, q_stride, k_stride, v_stride, out_stride, the constants KEY_CAP and DH_CAP, the loaders q4, k4, v4,
// dout4 (columns c .. c+3 of a head row), key_valid(b, j), read_probs and the writes write_out, write_probs, write_ds,
// write_dq (stand-ins for what it does not bind); inserted where it has the ATTENTION_ROW fill.

fn round_up4(n: u32) -> u32 {
  return (n + 3u) & ~3u;
}

// Keys this row's group of 4 rows loops over: all of them, or under the causal mask those up to the
// group's last row (the same bound for the 4 lanes; earlier rows of the group give the extra keys P = 0).
fn group_key_end(i: u32) -> u32 {
  return select(p.tk, min(p.tk, (i | 3u) + 1u), p.causal != 0u);
}

fn q_row(b: u32, t: u32, h: u32) -> u32 {
  return (b * p.tq + t) * p.q_stride + h * p.head_dim;
}

fn k_row(b: u32, j: u32, h: u32) -> u32 {
  return (b * p.tk + j) * p.k_stride + h * p.head_dim;
}

fn v_row(b: u32, j: u32, h: u32) -> u32 {
  return (b * p.tk + j) * p.v_stride + h * p.head_dim;
}

fn out_row(b: u32, t: u32, h: u32) -> u32 {
  return (b * p.tq + t) * p.out_stride + h * p.head_dim;
}

fn probs_row(b: u32, h: u32, i: u32) -> u32 {
  return ((b * p.n_heads + h) * p.tq + i) * p.tk;
}

// The (row, head, batch) an invocation owns, over rows counted in aligned groups of 4 (rows >= n are phantoms).
fn row_owner(x: u32, n: u32) -> vec3u {
  let n4 = round_up4(n);
  return vec3u(x % n4, (x / n4) % p.n_heads, x / (n4 * p.n_heads));
}

fn head_chunks() -> u32 {
  return (p.head_dim + 3u) / 4u;
}

// Columns c .. c+3 of a head row (the <tensor>4(row, c) loaders that the wrapper fills in as HEAD_LOADERS
// for the tensors a section binds). Columns past head_dim repeat the last one: they only ever meet a zero
// (a zero-padded private row) or land in an output column that is not stored.
fn col(c: u32) -> u32 {
  return min(c, p.head_dim - 1u);
}
fn zero_past_head(x: vec4f, c: u32) -> vec4f {
  return select(vec4f(0.0), x, vec4u(c) + vec4u(0u, 1u, 2u, 3u) < vec4u(p.head_dim));
}

// Query row i (< round_up4(tq)) of batch b, head h: scores, max-subtracted exponentials and their sum in a private
// row, then out = P V, 4 columns at a time, and the row of probs (nothing stored for a phantom row i >= tq).
fn forward_row(b: u32, h: u32, i: u32) {
  let row = min(i, p.tq - 1u); // phantom rows redo the last row and store nothing
  let real = i < p.tq;
  let end = group_key_end(i);
  let chunks = head_chunks();

  var q: array<vec4f, DH_CAP / 4u>; // scale * Q row, zero past head_dim
  let qi = q_row(b, row, h);
  for (var c4 = 0u; c4 < chunks; c4++) {
    q[c4] = p.scale * zero_past_head(q4(qi, 4u * c4), 4u * c4);
  }

  // Scores, then exponentials (0 where hidden), in the private row.
  var s: array<f32, KEY_CAP>;
  for (var j = 0u; j < end; j++) {
    let kj = k_row(b, j, h);
    var dot4 = vec4f(0.0);
    for (var c4 = 0u; c4 < chunks; c4++) {
      dot4 += q[c4] * k4(kj, 4u * c4);
    }
    s[j] = dot4.x + dot4.y + dot4.z + dot4.w;
  }
  var m = -3.4e38;
  var seen = false;
  for (var j = 0u; j < end; j++) {
    let shown = (j <= row || p.causal == 0u) && key_valid(b, j);
    m = select(m, max(m, s[j]), shown);
    seen = seen || shown;
  }
  var sum = 0.0;
  for (var j = 0u; j < end; j++) {
    let shown = (j <= row || p.causal == 0u) && key_valid(b, j);
    s[j] = select(0.0, exp(s[j] - m), shown);
    sum += s[j];
  }
  let inv = select(0.0, 1.0 / sum, seen);

  let oi = out_row(b, row, h);
  for (var c4 = 0u; c4 < chunks; c4++) {
    var acc = vec4f(0.0);
    for (var j = 0u; j < end; j++) {
      acc += s[j] * v4(v_row(b, j, h), 4u * c4);
    }
    for (var u = 0u; u < 4u && real && 4u * c4 + u < p.head_dim; u++) {
      write_out(oi + 4u * c4 + u, acc[u] * inv);
    }
  }
  if (real) {
    let pi = probs_row(b, h, row);
    for (var j = 0u; j < p.tk; j++) {
      write_probs(pi + j, select(0.0, s[j] * inv, j < end));
    }
  }
}

// dP row, D, the scale * dS row (stored to ds) and dQ of query row i (< round_up4(tq)) of batch b, head h.
fn backward_row(b: u32, h: u32, i: u32) {
  let row = min(i, p.tq - 1u); // phantom rows redo the last row and store nothing
  let real = i < p.tq;
  let end = group_key_end(i);
  let chunks = head_chunks();
  let pi = probs_row(b, h, row);

  var dout: array<vec4f, DH_CAP / 4u>; // dO row, zero past head_dim
  let doi = out_row(b, row, h);
  for (var c4 = 0u; c4 < chunks; c4++) {
    dout[c4] = zero_past_head(dout4(doi, 4u * c4), 4u * c4);
  }
  // dP, then scale * dS. Hidden keys have P = 0, so they drop out of D and get dS = 0.
  var prob: array<f32, KEY_CAP>;
  var ds: array<f32, KEY_CAP>;
  var d = 0.0;
  for (var j = 0u; j < end; j++) {
    let vj = v_row(b, j, h);
    var dp4 = vec4f(0.0);
    for (var c4 = 0u; c4 < chunks; c4++) {
      dp4 += dout[c4] * v4(vj, 4u * c4);
    }
    prob[j] = read_probs(pi + j);
    ds[j] = dp4.x + dp4.y + dp4.z + dp4.w;
    d += prob[j] * ds[j];
  }
  for (var j = 0u; j < end; j++) {
    ds[j] = p.scale * prob[j] * (ds[j] - d);
    if (real) {
      write_ds(pi + j, ds[j]);
    }
  }
  let dqi = q_row(b, row, h);
  for (var c4 = 0u; c4 < chunks; c4++) {
    var acc = vec4f(0.0);
    for (var j = 0u; j < end; j++) {
      acc += ds[j] * k4(k_row(b, j, h), 4u * c4);
    }
    for (var u = 0u; u < 4u && real && 4u * c4 + u < p.head_dim; u++) {
      write_dq(dqi + 4u * c4 + u, acc[u]);
    }
  }
}
