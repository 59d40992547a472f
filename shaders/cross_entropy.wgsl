// Fused softmax + cross-entropy + dlogits, mean reduction over the scored rows (PyTorch
// F.cross_entropy with ignore_index = -1).
//
// Layout: logits [rows, classes] row-major from element p.logitsOffset; targets i32 [rows] from element 0,
// -1 = ignore; outputs losses [rows] from p.lossesOffset (per-row -log softmax[target], 0 when ignored;
// the CPU sums them in float64 and divides by nScored) and dLogits [rows, classes] from p.dLogitsOffset,
// (softmax - onehot) * lossScale / nScored, zero rows when ignored. lossScale is 1, or the number of task heads of
// a multitask model, whose rows are the heads' (equally many scored) and whose loss is the sum of their means. A target outside [0, classes) other than -1 is
// treated as ignored (never read out of bounds; a kernel cannot raise, the float64 reference throws).
//
// Parallel decomposition: one thread per row, looping over the classes (the lab's heads have at most
// ~100 classes, so a whole workgroup per row would idle most threads and pay for three tree reductions).
// nScored changes from batch to batch while the dispatch is replayed, so every workgroup counts it from
// the targets itself (rows is at most a few thousand): its threads stride over the targets and add their
// counts into one workgroup atomic (integer, so the order does not matter). That is the kernel's only
// barrier, which matters on software adapters, where each barrier-synchronised workgroup is expensive.

const WG: u32 = 64u;

struct Params {
  rows: u32,
  classes: u32,
  logitsOffset: u32,
  lossesOffset: u32,
  dLogitsOffset: u32,
  lossScale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read_write> losses: array<f32>;
@group(0) @binding(4) var<storage, read_write> dLogits: array<f32>;

// Workgroup memory starts zeroed.
var<workgroup> scoredRows: atomic<u32>;

fn isScored(t: i32) -> bool {
  return t >= 0 && t < i32(p.classes);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) lid: u32) {
  var mine = 0u;
  for (var r = lid; r < p.rows; r += WG) {
    if (isScored(targets[r])) { mine += 1u; }
  }
  atomicAdd(&scoredRows, mine);
  workgroupBarrier();
  let nScored = f32(atomicLoad(&scoredRows));

  let row = gid.x;
  if (row >= p.rows) { return; }
  let t = targets[row];
  let base = p.logitsOffset + row * p.classes;
  let out = p.dLogitsOffset + row * p.classes;
  if (!isScored(t)) {
    losses[p.lossesOffset + row] = 0.0;
    for (var c = 0u; c < p.classes; c++) { dLogits[out + c] = 0.0; }
    return;
  }
  // Subtracting the row max keeps exp() finite for any logits.
  var rowMax = logits[base];
  for (var c = 1u; c < p.classes; c++) { rowMax = max(rowMax, logits[base + c]); }
  var sumExp = 0.0;
  for (var c = 0u; c < p.classes; c++) { sumExp += exp(logits[base + c] - rowMax); }
  losses[p.lossesOffset + row] = log(sumExp) + rowMax - logits[base + u32(t)];
  for (var c = 0u; c < p.classes; c++) {
    let onehot = select(0.0, 1.0, c == u32(t));
    // Scale first, then divide: with lossScale 1 this is exactly (softmax - onehot) / nScored.
    dLogits[out + c] = (exp(logits[base + c] - rowMax) / sumExp - onehot) * p.lossScale / nScored;
  }
}
