// Fused softmax + cross-entropy + dlogits, mean reduction over the scored rows (PyTorch
// F.cross_entropy with ignore_index = -1).
//
// Layout: logits [rows, classes] row-major; targets i32 [rows], -1 = ignore; outputs losses [rows] (per-row
// -log softmax[target], 0 when ignored; the CPU sums them in float64 and divides by nScored) and d_logits
// [rows, classes], (softmax - onehot) * lossScale / nScored, zero rows when ignored. lossScale is 1, or the number of task heads of
// a multitask model, whose rows are the heads' (equally many scored) and whose loss is the sum of their means. A target outside [0, classes) other than -1 is
// treated as ignored (never read out of bounds; a kernel cannot raise, the float64 reference throws).
//
// With the head (HEAD, the fused graph): the kernel first computes its row's logits itself and writes them,
//   logits[r, c] = sum_k head_in[r / heads, k] w[(r % heads) * classes + c, k] + bias[(r % heads) * classes + c]
// (head_in [rows / heads, k_dim], w [heads * classes, k_dim], bias [heads * classes]: the Linear head, task heads
// side by side), summing over k in order from 0 and adding the bias last, as the matmul kernels do for each output
// (shaders/matmul.wgsl), so the logits are those bits; then reads them back as above.
// With the final norm too (NORM, the fused graph): head_in is not read but computed, the model's final LayerNorm
// or RMSNorm of the residual stream x [batch * seq_len, k_dim] at the readout positions: input row m is x row
//   xr = (m / count) * seq_len + start + m % count
// normalised with gamma (and beta) [k_dim] as shaders/layernorm.wgsl's forward would (shaders/norm_row.wgsl: the
// same statistics in the same order of summation on this adapter, the same output arithmetic). The row is written to
// head_in [rows / heads, k_dim] and its statistics to mean (LayerNorm only) and rstd [batch * seq_len] at xr: all the
// norm kernel would have written (the head's and the norm's backward read them). One thread per row: the thread of
// the input row's first task head writes them and reads the row back for its logits, the other task heads' threads
// normalise it again; grouped: the workgroup normalises it once, into workgroup memory.
//
// Parallel decomposition, chosen in src/model/ops/cross_entropy.ts (GROUPED):
//   one thread per row (software adapters, and without the head): it loops over the classes, and with the head over
//     the k_dim inputs for every class, the final norm's row included (the lab's heads have at most ~100 classes; a
//     software adapter pays for every barrier-synchronised workgroup).
//   one workgroup per input row (GROUPED, GPUs, with the head): a GPU hides memory latency only with many threads, and
//     one thread per row loops ~3,000 times on modarith's 97 classes. The workgroup normalises the input row together
//     (shared_norm_stats, the norm kernel's lanes), each invocation computes some of the row's heads * classes logits,
//     one invocation per task head takes that row's softmax statistics and loss, and all of them write the dlogits.
// Both compute every value as the same expression of the same operands in the same order (the logits summed over k in
// order, the softmax sums over the classes in order by one invocation), so they give the same bits.
// nScored changes from batch to batch while the dispatch is replayed, so every workgroup counts it from the targets
// itself (rows is at most a few thousand): its threads stride over the targets and add their counts into one workgroup
// atomic (integer, so the order does not matter).

// Uniforms rows, classes, lossScale, heads, k_dim (the last two used with HEAD only), eps, seq_len, start, count
// (NORM only). Tensors are windows of buffers, reached through the accessors generated at `//!bindings`
// (src/gpu/kernel-template.ts); targets are read as u32 bits. Template fills (src/model/ops/cross_entropy.ts): HEAD,
// NORM, SHARED_INPUT (heads > 1), GROUPED and INPUTS (k_dim, the workgroup's copy of its input row; 1 unless GROUPED),
// STAND_INS (stand-ins for the accessors of tensors a variant does not bind, never called, or returning 0 for
// RMSNorm's beta), and the fills of shaders/norm_row.wgsl: NORM_ROW, NORM_LANES, CENTRED (and its NORM_WG, this
// kernel's WG).

const WG: u32 = 64u;
const HEAD: bool = {{HEAD}};
const NORM: bool = {{NORM}};
const SHARED_INPUT: bool = {{SHARED_INPUT}};  // heads > 1: several rows score each input row
const GROUPED: bool = {{GROUPED}};
const INPUTS: u32 = {{INPUTS}};
const CENTRED: bool = {{CENTRED}};
const NORM_LANES: u32 = {{NORM_LANES}};
const NORM_WG: u32 = WG;

//!bindings
{{STAND_INS}}

// Element i of row r of the final norm's input (NORM only).
fn x_at(r: u32, i: u32) -> f32 {
  return read_x(r * p.k_dim + i);
}

{{NORM_ROW}}

// NORM: the row of x that input row m normalises.
fn norm_row_of(m: u32) -> u32 {
  return (m / p.count) * p.seq_len + p.start + m % p.count;
}

// NORM: element k of the normalised x row xr, with its statistics.
fn normed_input(xr: u32, k: u32, stats: vec2f) -> f32 {
  return norm_apply(x_at(xr, k), stats.x, stats.y, read_gamma(k), read_beta(k));
}

fn save_stats(xr: u32, stats: vec2f) {
  write_mean(xr, stats.x);
  write_rstd(xr, stats.y);
}

fn targetOf(r: u32) -> i32 {
  return bitcast<i32>(read_targets(r));
}

fn isScored(t: i32) -> bool {
  return t >= 0 && t < i32(p.classes);
}

// Workgroup memory starts zeroed.
var<workgroup> scoredRows: atomic<u32>;

// The rows whose targets are scored, counted by the whole workgroup.
fn count_scored(lid: u32) -> f32 {
  var mine = 0u;
  for (var r = lid; r < p.rows; r += WG) {
    if (isScored(targetOf(r))) { mine += 1u; }
  }
  atomicAdd(&scoredRows, mine);
  workgroupBarrier();
  return f32(atomicLoad(&scoredRows));
}

fn write_logit(row: u32, c: u32, v: f32) {
  if (c < p.classes) { write_logits(row * p.classes + c, v); }
}

// The softmax of a scored row from its logits: (row max, sum of exp(logit - max) over the classes in order).
// Subtracting the row max keeps exp() finite for any logits.
fn softmax_sums(row: u32) -> vec2f {
  let base = row * p.classes;
  var rowMax = read_logits(base);
  for (var c = 1u; c < p.classes; c++) { rowMax = max(rowMax, read_logits(base + c)); }
  var sumExp = 0.0;
  for (var c = 0u; c < p.classes; c++) { sumExp += exp(read_logits(base + c) - rowMax); }
  return vec2f(rowMax, sumExp);
}

// Writes the loss of row `row`, -log softmax[target] (0 for an ignored row), and returns its softmax_sums (zeros for an
// ignored row).
fn score_loss(row: u32) -> vec2f {
  let t = targetOf(row);
  if (!isScored(t)) {
    write_losses(row, 0.0);
    return vec2f(0.0);
  }
  let softmax = softmax_sums(row);
  write_losses(row, log(softmax.y) + softmax.x - read_logits(row * p.classes + u32(t)));
  return softmax;
}

// dlogits[row, c]: 0 for an ignored row (t not scored).
fn d_logit(row: u32, c: u32, t: i32, softmax: vec2f, nScored: f32) -> f32 {
  if (!isScored(t)) { return 0.0; }
  let onehot = select(0.0, 1.0, c == u32(t));
  // Scale first, then divide: with lossScale 1 this is exactly (softmax - onehot) / nScored.
  return (exp(read_logits(row * p.classes + c) - softmax.x) / softmax.y - onehot) * p.lossScale / nScored;
}

// Element k of the head's input row m as the thread of `row` uses it: read from head_in, which with NORM the row's
// first task head's thread has written itself (and reads back); the other task heads' threads normalise it again.
fn head_input(row: u32, m: u32, xr: u32, k: u32, stats: vec2f) -> f32 {
  if (NORM && SHARED_INPUT && row % p.heads != 0u) {
    return normed_input(xr, k, stats);
  }
  return read_head_in(m * p.k_dim + k);
}

// Row `row`'s logits from the head's input and weights, written to logits (HEAD only, one thread per row); with NORM,
// the input row's normalisation written too, by its first task head's thread.
fn head_logits(row: u32) {
  let m = row / p.heads;
  var xr = 0u;
  var stats = vec2f(0.0);
  if (NORM) {
    xr = norm_row_of(m);
    stats = norm_stats(xr, p.k_dim, p.eps);
    if (row % p.heads == 0u) {
      save_stats(xr, stats);
      for (var k = 0u; k < p.k_dim; k++) {
        write_head_in(m * p.k_dim + k, normed_input(xr, k, stats));
      }
    }
  }
  // Four classes at a time, each its own sum in order of k (an input element is read once for four logits, a quarter
  // of the loop on software adapters); a class past the last reads the last one's weights and is not written.
  let first = (row % p.heads) * p.classes;  // the row's head's first output of the Linear head
  for (var c = 0u; c < p.classes; c += 4u) {
    let n = vec4u(first + c, first + min(c + 1u, p.classes - 1u), first + min(c + 2u, p.classes - 1u),
      first + min(c + 3u, p.classes - 1u));
    var acc = vec4f(0.0);
    for (var k = 0u; k < p.k_dim; k++) {
      let w = vec4f(read_w(n.x * p.k_dim + k), read_w(n.y * p.k_dim + k), read_w(n.z * p.k_dim + k), read_w(n.w * p.k_dim + k));
      acc += head_input(row, m, xr, k, stats) * w;
    }
    write_logit(row, c, acc.x + read_bias(n.x));
    write_logit(row, c + 1u, acc.y + read_bias(n.y));
    write_logit(row, c + 2u, acc.z + read_bias(n.z));
    write_logit(row, c + 3u, acc.w + read_bias(n.w));
  }
}

// One thread per row: its logits (HEAD), loss and dlogits.
fn score_row(row: u32, nScored: f32) {
  if (HEAD) { head_logits(row); }
  let softmax = score_loss(row);
  let t = targetOf(row);
  for (var c = 0u; c < p.classes; c++) {
    write_d_logits(row * p.classes + c, d_logit(row, c, t, softmax, nScored));
  }
}

// GROUPED: the workgroup's input row (normalised with NORM), and each task head's row's softmax sums.
var<workgroup> input_row: array<f32, INPUTS>;
var<workgroup> row_softmax: array<vec2f, WG>;  // by task head

// GROUPED: input row m's rows m * heads + h, h < heads (every task head's): their logits, losses and dlogits, by the
// workgroup. Output j of the Linear head is class j % classes of task head j / classes, logit j of input row m.
fn score_input_row(m: u32, lid: u32, nScored: f32) {
  if (NORM) {
    let xr = norm_row_of(m);
    let stats = shared_norm_stats(xr, p.k_dim, p.eps, lid / (WG / NORM_LANES), lid, true);
    for (var k = lid; k < p.k_dim; k += WG) {
      let v = normed_input(xr, k, stats);
      input_row[k] = v;
      write_head_in(m * p.k_dim + k, v);
    }
    if (lid == 0u) { save_stats(xr, stats); }
  } else {
    for (var k = lid; k < p.k_dim; k += WG) { input_row[k] = read_head_in(m * p.k_dim + k); }
  }
  workgroupBarrier();
  let outputs = p.heads * p.classes;
  for (var j = lid; j < outputs; j += WG) {
    var acc = 0.0;
    for (var k = 0u; k < p.k_dim; k++) {
      acc += input_row[k] * read_w(j * p.k_dim + k);
    }
    write_logits(m * outputs + j, acc + read_bias(j));
  }
  storageBarrier();  // the logits written above, read below by other invocations
  let h = lid;  // heads <= WG
  if (h < p.heads) {
    row_softmax[h] = score_loss(m * p.heads + h);
  }
  workgroupBarrier();
  for (var j = lid; j < outputs; j += WG) {
    let row = m * p.heads + j / p.classes;
    let c = j % p.classes;
    write_d_logits(row * p.classes + c, d_logit(row, c, targetOf(row), row_softmax[j / p.classes], nScored));
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let nScored = count_scored(lid);
  if (GROUPED) {
    score_input_row(wg.x, lid, nScored);
  } else if (gid.x < p.rows) {
    score_row(gid.x, nScored);
  }
}
