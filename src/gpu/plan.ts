// Allocation from a plan: a nested object whose leaves are element counts becomes the same object with a
// storage buffer at each leaf, or, for a packed leaf (several tensors in one buffer), a window of one buffer for each
// of its tensors. The whole plan is checked against the adapter's limits before the first buffer is created, so an
// oversized model fails without leaving half a graph on the GPU.
import { at, type GpuRuntime, type TensorRef } from './runtime';

/**
 * Tensors that share one buffer, one after another in the order given (undefined ones take no room): a kernel that
 * binds several of them binds one storage buffer, which counts against maxStorageBuffersPerShaderStage once.
 */
export class Packed<T extends Record<string, number | undefined>> {
  constructor(readonly parts: T) {}
}

export const packed = <T extends Record<string, number | undefined>>(parts: T): Packed<T> => new Packed(parts);

/** A packed tensor's window: a TensorRef, or undefined where its count was. */
type Window<V> = V extends number ? TensorRef : undefined;

export type Allocated<T> = T extends Packed<infer P>
  ? { [K in keyof P]: Window<P[K]> }
  : T extends number
    ? GPUBuffer
    : T extends undefined
      ? undefined
      : T extends readonly (infer U)[]
        ? Allocated<U>[]
        : { [K in keyof T]: Allocated<T[K]> };

const packedLength = (p: Packed<Record<string, number | undefined>>) => Object.values(p.parts).reduce<number>((sum, n) => sum + (n ?? 0), 0);

function leaves(plan: unknown, path: string, out: [string, number][]): void {
  if (typeof plan === 'number') out.push([path, plan]);
  else if (plan instanceof Packed) out.push([path, packedLength(plan)]);
  else if (plan && typeof plan === 'object') {
    for (const [key, value] of Object.entries(plan)) leaves(value, path ? `${path}.${key}` : key, out);
  }
}

function build(rt: GpuRuntime, plan: unknown, path: string): unknown {
  if (typeof plan === 'number') return rt.storage(path, plan * 4);
  if (plan === undefined) return undefined;
  if (plan instanceof Packed) {
    const buffer = rt.storage(path, packedLength(plan) * 4);
    let offset = 0;
    return Object.fromEntries(Object.entries(plan.parts as Record<string, number | undefined>).map(([k, n]) => {
      if (n === undefined) return [k, undefined];
      const ref = at(buffer, offset);
      offset += n;
      return [k, ref];
    }));
  }
  if (Array.isArray(plan)) return plan.map((p, i) => build(rt, p, `${path}.${i}`));
  return Object.fromEntries(Object.entries(plan as object).map(([k, v]) => [k, build(rt, v, path ? `${path}.${k}` : k)]));
}

/** Throws a GpuLimitError for the first buffer of the plan that the adapter cannot hold (counts of 4-byte elements). */
export function checkPlan(rt: GpuRuntime, plan: object): void {
  const all: [string, number][] = [];
  leaves(plan, '', all);
  for (const [label, count] of all) rt.checkFits(label, count * 4, GPUBufferUsage.STORAGE);
}

/** Element counts are 4-byte elements (f32, u32 or i32). */
export function allocate<T extends object>(rt: GpuRuntime, plan: T): Allocated<T> {
  checkPlan(rt, plan);
  return build(rt, plan, '') as Allocated<T>;
}
