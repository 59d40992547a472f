// Dense kernels over vectors of length n and blocks of them ("rows": row r of a block is elements
// [r * n, (r + 1) * n) of its tensor), for the matrix-free Lanczos solver and its operators
// (src/spectral/vector-ops.ts, lanczos.ts, operators.ts, hessian.ts, param-probe.ts):
//
//   dots:      partial dot products, partials[r * parts + t] = sum over i = t, t + parts, t + 2 parts, ... < n of
//              a[r * n + i] * b[r * bStep + i]   for r < rows
//              (bStep = 0: every row of a against one vector b; bStep = n: row r of a against row r of b).
//              Decisions (Lanczos coefficients, norms) read the partials back and add them in float64 on the CPU;
//              an operator that keeps its dot products on the GPU adds them with sum_parts.
//   sum_parts: out[r] = sum over t < parts of partials[r * parts + t], for r < rows (in float32, in order).
//   combine:   out[o * n + i] = (keep ? out[o * n + i] : 0) + sum over r < rows of coeff[o * rows + r] * src[r * n + i]
//              for o < outRows: Gram-Schmidt updates (coeff = minus the projections), Ritz vectors, X^T t, A x.
//   axpy:      out[i] = alpha * x[i] + beta * y[i]: parameter perturbations and gradient differences.
//
// Parallel decomposition: dots runs one invocation per (row, part), each a serial loop over its part's elements
// (adjacent invocations read adjacent elements); the others stride over the n elements, so any grid covers any
// n. No kernel has a barrier (software adapters pay ~1 ms per barrier-synchronised workgroup), and the order of
// every addition is fixed by the shapes alone, so results are deterministic.
//
// Template fills (src/spectral/vector-ops.ts): {{WG}}.

//!bindings

const WG: u32 = {{WG}};

//!kernel dots
// uniforms: n, rows, parts, bStep. tensors: a, b (read), partials (written).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let id = gid.x;
  if (id >= p.rows * p.parts) {
    return;
  }
  let r = id / p.parts;
  let aBase = r * p.n;
  let bBase = r * p.bStep;
  var sum = 0.0;
  for (var i = id % p.parts; i < p.n; i += p.parts) {
    sum += read_a(aBase + i) * read_b(bBase + i);
  }
  write_partials(id, sum);
}

//!kernel sum_parts
// uniforms: rows, parts. tensors: partials (read), out (written).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= p.rows) {
    return;
  }
  var sum = 0.0;
  for (var t = 0u; t < p.parts; t++) {
    sum += read_partials(r * p.parts + t);
  }
  write_out(r, sum);
}

//!kernel combine
// uniforms: n, rows, outRows, keep. tensors: src, coeff (read), out (written).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < p.n; i += nwg.x * WG) {
    for (var o = 0u; o < p.outRows; o++) {
      var sum = 0.0;
      for (var r = 0u; r < p.rows; r++) {
        sum += read_coeff(o * p.rows + r) * read_src(r * p.n + i);
      }
      // keep is uniform, so every invocation takes the same side; out is not read when it is 0 (it may hold NaN).
      if (p.keep != 0u) {
        sum += read_out(o * p.n + i);
      }
      write_out(o * p.n + i, sum);
    }
  }
}

//!kernel axpy
// uniforms: n, alpha, beta. tensors: x, y (read), out (written).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < p.n; i += nwg.x * WG) {
    write_out(i, p.alpha * read_x(i) + p.beta * read_y(i));
  }
}
