// Long series drawn at screen resolution: the points that fall into one pixel column are reduced to their
// first, lowest, highest and last values (min/max per column), so a 100,000-point line costs at most four
// points per pixel and every spike still shows. Non-finite values (gaps, and non-positive values on a log axis,
// which the pixel mapping turns into NaN) break the line instead of joining across them.

/**
 * The polyline to draw for (xs[i], ys[i]), in pixels: a flat [px0, py0, px1, py1, ...] array in which a NaN pair
 * starts a new sub-path. `toPx` and `toPy` map data to pixels (they may return NaN for unplottable values).
 */
export function minMaxPolyline(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  toPx: (x: number) => number,
  toPy: (y: number) => number,
): Float64Array {
  const n = Math.min(xs.length, ys.length);
  // At most two output points per input point: a column of k >= 3 points gives 4, a gap marker needs a gap.
  const out = new Float64Array(4 * n + 2);
  let length = 0;
  const push = (px: number, py: number) => {
    out[length++] = px;
    out[length++] = py;
  };
  let column = NaN;
  let count = 0;
  let firstX = 0, firstY = 0, lastX = 0, lastY = 0, minY = 0, maxY = 0;
  let broken = false;
  const emit = () => {
    if (count === 0) return;
    if (broken) {
      push(NaN, NaN);
      broken = false;
    }
    push(firstX, firstY);
    if (count > 1) {
      // The column's vertical extent, in the order the line visits it.
      if (minY !== firstY && minY !== lastY) push(firstX, minY);
      if (maxY !== firstY && maxY !== lastY) push(firstX, maxY);
      push(lastX, lastY);
    }
    count = 0;
  };
  for (let i = 0; i < n; i++) {
    const px = toPx(xs[i]);
    const py = toPy(ys[i]);
    if (!Number.isFinite(px) || !Number.isFinite(py)) {
      emit();
      if (length > 0) broken = true;
      column = NaN;
      continue;
    }
    const c = Math.floor(px);
    if (c !== column) {
      emit();
      column = c;
      firstX = lastX = px;
      firstY = lastY = minY = maxY = py;
      count = 1;
      continue;
    }
    lastX = px;
    lastY = py;
    if (py < minY) minY = py;
    if (py > maxY) maxY = py;
    count += 1;
  }
  emit();
  return out.subarray(0, length);
}

/** The sub-paths of a polyline (split at its NaN pairs), each a flat [px, py, ...] array. */
export function subPaths(polyline: Float64Array): Float64Array[] {
  const paths: Float64Array[] = [];
  let start = 0;
  for (let i = 0; i <= polyline.length; i += 2) {
    if (i === polyline.length || Number.isNaN(polyline[i])) {
      if (i > start) paths.push(polyline.subarray(start, i));
      start = i + 2;
    }
  }
  return paths;
}

/** An SVG path's `d` for a polyline ("M x y L x y ..." per sub-path; one point becomes a short dash). */
export function svgPathData(polyline: Float64Array, digits = 2): string {
  const f = (v: number) => Number(v.toFixed(digits));
  return subPaths(polyline)
    .map((path) => {
      const parts = [`M${f(path[0])} ${f(path[1])}`];
      for (let i = 2; i < path.length; i += 2) parts.push(`L${f(path[i])} ${f(path[i + 1])}`);
      if (path.length === 2) parts.push(`h0.01`);
      return parts.join('');
    })
    .join('');
}
