// Turns a kernel-family WGSL source into one kernel plus the parameters and buffers its dispatch binds.
//
// Why: tensors live as windows of a few large buffers (parameters, gradients, activations), and WebGPU
// rejects a dispatch that binds one buffer twice when either binding is writable. So which tensors share a
// binding depends on where the caller put them, and the bindings cannot be written by hand in the .wgsl.
// Instead the kernel body reads and writes tensors only through generated accessors:
//   read_<name>(i) / write_<name>(i, v)   element i of tensor <name>, i counted from the tensor's start
// and finds its scalar parameters in the uniform struct `p`. This module generates, at the source's
// `//!bindings` line:
//   struct Params { <uniforms in the order given>, <one u32 element offset per tensor, named after it> }
//   @group(0) @binding(0) var<uniform> p: Params;
//   one storage binding per distinct GPUBuffer (read_write when any tensor in it is written), from @binding(1)
//   the accessors
// A family file may hold several kernels: everything before the first `//!kernel <name>` line is shared,
// and only the named section is kept. `{{KEY}}` placeholders are replaced from `fills`.
import { u32, type Kernel, type Scalar, type TensorRef } from './runtime';

export interface TensorArg {
  ref: TensorRef;
  /** Elements the kernel may touch from `ref.offset` on; checked against the buffer's size. */
  length: number;
  /** The kernel writes this tensor (its buffer is then bound read_write). */
  writes?: boolean;
  /** WGSL element type; f32 unless given. */
  type?: 'f32' | 'u32';
}

export interface KernelSpec {
  label: string;
  /** Which `//!kernel <name>` section to keep; omit for a single-kernel source. */
  section?: string;
  uniforms: Record<string, Scalar>;
  tensors: Record<string, TensorArg>;
  fills?: Record<string, string>;
}

export interface InstantiatedKernel {
  kernel: Kernel;
  params: Scalar[];
  buffers: GPUBuffer[];
}

/** An accessor a kernel may call, and the body it gets where its tensor is not bound (never called, or a constant). */
export interface StandIn {
  /** e.g. `read_x(i: u32) -> f32` */
  signature: string;
  tensor: string;
  body: string;
}

/** Stand-ins for those of `accessors` that `tensors` does not generate (a write of a read-only tensor included). */
export function standIns(tensors: Record<string, TensorArg | undefined>, accessors: readonly StandIn[]): string {
  return accessors
    .filter(({ signature, tensor }) => !tensors[tensor] || (signature.startsWith('write_') && !tensors[tensor]!.writes))
    .map(({ signature, body }) => `fn ${signature} { ${body} }`)
    .join('\n');
}

export const read = (ref: TensorRef, length: number, type: TensorArg['type'] = 'f32'): TensorArg => ({ ref, length, type });
export const write = (ref: TensorRef, length: number): TensorArg => ({ ref, length, writes: true });

const SECTION = /^\/\/!kernel\s+(\S+)\s*$/;
const BINDINGS = /^\/\/!bindings\s*$/m;

function selectSection(source: string, label: string, section: string | undefined): string {
  const lines = source.split('\n');
  const starts = lines.flatMap((line, i) => (SECTION.test(line) ? [i] : []));
  if (section === undefined) {
    if (starts.length > 0) throw new Error(`kernel ${label}: the source has several kernels, name one`);
    return source;
  }
  const k = starts.findIndex((i) => lines[i].match(SECTION)?.[1] === section);
  if (k < 0) throw new Error(`kernel ${label}: the source has no \`//!kernel ${section}\` section`);
  const end = k + 1 < starts.length ? starts[k + 1] : lines.length;
  return [...lines.slice(0, starts[0] ?? lines.length), ...lines.slice(starts[k], end)].join('\n');
}

function checkFits(label: string, name: string, t: TensorArg): void {
  const available = t.ref.buffer.size / 4 - t.ref.offset;
  if (!Number.isInteger(t.ref.offset) || t.ref.offset < 0 || t.length > available) {
    throw new RangeError(
      `kernel ${label}: tensor ${name} needs elements [${t.ref.offset}, ${t.ref.offset + t.length}) ` +
        `but its buffer ${t.ref.buffer.label || '(unnamed)'} holds ${t.ref.buffer.size / 4}`,
    );
  }
}

export function instantiateKernel(source: string, spec: KernelSpec): InstantiatedKernel {
  const { label, uniforms, tensors } = spec;
  const names = [...Object.keys(uniforms), ...Object.keys(tensors)];
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) throw new Error(`kernel ${label}: "${duplicate}" is both a uniform and a tensor`);

  const bindings = new Map<GPUBuffer, { index: number; type: string; writes: boolean }>();
  for (const [name, t] of Object.entries(tensors)) {
    checkFits(label, name, t);
    const type = t.type ?? 'f32';
    const b = bindings.get(t.ref.buffer);
    if (!b) bindings.set(t.ref.buffer, { index: bindings.size + 1, type, writes: !!t.writes });
    else if (b.type !== type) throw new Error(`kernel ${label}: tensor ${name} is ${type} but shares a buffer with ${b.type} tensors`);
    else b.writes ||= !!t.writes;
  }

  const fields = [
    ...Object.entries(uniforms).map(([n, s]) => `${n}: ${s.type}`),
    ...Object.keys(tensors).map((n) => `${n}: u32`),
  ];
  const generated = [
    `struct Params { ${fields.join(', ')} }`,
    '@group(0) @binding(0) var<uniform> p: Params;',
    ...[...bindings.values()].map(
      (b) => `@group(0) @binding(${b.index}) var<storage, ${b.writes ? 'read_write' : 'read'}> buf${b.index}: array<${b.type}>;`,
    ),
    ...Object.entries(tensors).flatMap(([n, t]) => {
      const { index, type } = bindings.get(t.ref.buffer)!;
      const accessors = [`fn read_${n}(i: u32) -> ${type} { return buf${index}[p.${n} + i]; }`];
      if (t.writes) accessors.push(`fn write_${n}(i: u32, v: ${type}) { buf${index}[p.${n} + i] = v; }`);
      return accessors;
    }),
  ].join('\n');

  let code = selectSection(source, label, spec.section);
  if (!BINDINGS.test(code)) throw new Error(`kernel ${label}: the source has no \`//!bindings\` line`);
  code = code.replace(BINDINGS, generated);
  for (const [key, value] of Object.entries(spec.fills ?? {})) code = code.replaceAll(`{{${key}}}`, value);
  const unfilled = code.match(/\{\{\w+\}\}/);
  if (unfilled) throw new Error(`kernel ${label}: placeholder ${unfilled[0]} was not filled`);

  return {
    kernel: { label, code },
    params: [...Object.values(uniforms), ...Object.values(tensors).map((t) => u32(t.ref.offset))],
    buffers: [...bindings.keys()],
  };
}
