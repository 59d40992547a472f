// The spectral edge's GPU work (docs/science.md §2.2, §2.3), two kernels over rows of length n (the tracked parameter slice,
// theta_attn by default); the edge vectors are formed by lanczos.wgsl's row-combination kernel:
//
//   snapshot: at the end of a window step, for every element i of the slice
//               delta[i] = theta[i] - prev[i];  prev[i] = theta[i]
//               ringX[i] = delta[i];  ringD[i] = acc[i];  ringG[i] = acc[n + i];  acc[i] = acc[n + i] = 0
//             theta is the slice of the flat parameters; prev the slice at the previous snapshot; acc [2n] the
//             decay parts (first n) and gradient (Adam) parts (next n) that the optimiser accumulated since then
//             (shaders/adamw.wgsl); ringX/G/D the ring slot being overwritten (one prebuilt dispatch per slot).
//   dots:     partial dot products of every row of a [rowsA, n] with every row of b [rowsB, n]:
//               partials[(i * rowsB + j) * numChunks + c] = sum over k in chunk c of a[i, k] * b[j, k]
//             (chunks of `chunk` elements; the CPU adds each pair's partials in float64). a and b may be the
//             same tensor (the Gram matrix of a window). Unlike lanczos.wgsl's dots (each row against one vector,
//             or row r against row r), this takes every pair of rows in one dispatch: three W x W matrices per window.
//
// Parallel decomposition: snapshot strides over the n elements (any grid covers any n); dots runs one
// invocation per (pair, chunk), each a serial loop, so no kernel here has a barrier (software adapters pay
// ~1 ms per barrier-synchronised workgroup).
//
// Template fills (src/spectral/monitor.ts): {{WG}}.

//!bindings

const WG: u32 = {{WG}};

//!kernel snapshot
// uniforms: n. tensors: theta (read), prev, acc (read-written), ringX, ringG, ringD (written).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < p.n; i += nwg.x * WG) {
    let now = read_theta(i);
    write_ringX(i, now - read_prev(i));
    write_prev(i, now);
    write_ringD(i, read_acc(i));
    write_ringG(i, read_acc(p.n + i));
    write_acc(i, 0.0);
    write_acc(p.n + i, 0.0);
  }
}

//!kernel dots
// uniforms: n, rowsB, chunk, numChunks, count (= rowsA * rowsB * numChunks). tensors: a, b (read), partials (written).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let id = gid.x;
  if (id >= p.count) {
    return;
  }
  let pair = id / p.numChunks;
  let c = id % p.numChunks;
  let rowA = (pair / p.rowsB) * p.n;
  let rowB = (pair % p.rowsB) * p.n;
  let end = min((c + 1u) * p.chunk, p.n);
  var sum = 0.0;
  for (var k = c * p.chunk; k < end; k++) {
    sum += read_a(rowA + k) * read_b(rowB + k);
  }
  write_partials(id, sum);
}
