// One requestAnimationFrame loop for every chart. Each chart registers a callback that redraws only when its
// data, markers, size or options changed, and says whether it drew. A frame spends at most FRAME_BUDGET_MS on
// drawing: charts that did not get their turn draw on the next frame, and a chart that drew goes to the back of
// the queue, so a batch that touches ten charts spreads over a few frames instead of one long task.
/** Returns true when it drew (did real work) this frame. */
export type FrameCallback = () => boolean;

const FRAME_BUDGET_MS = 8;

const queue: FrameCallback[] = [];
let frame = 0;

function tick(): void {
  frame = 0;
  const start = performance.now();
  for (const cb of [...queue]) {
    if (performance.now() - start > FRAME_BUDGET_MS) break;
    if (cb()) {
      const i = queue.indexOf(cb);
      if (i >= 0) queue.push(...queue.splice(i, 1));
    }
  }
  if (queue.length > 0) frame = requestAnimationFrame(tick);
}

/** Calls `cb` on animation frames (within the frame budget) until the returned function is called. */
export function onEveryFrame(cb: FrameCallback): () => void {
  queue.push(cb);
  if (!frame) frame = requestAnimationFrame(tick);
  return () => {
    const i = queue.indexOf(cb);
    if (i >= 0) queue.splice(i, 1);
  };
}
