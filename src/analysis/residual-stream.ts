// Reads the residual stream after the last block, before the final LayerNorm (the decoder's, in the
// encoder-decoder model), for every position of a set of sequences: what the probes of docs/science.md §3.6 regress from.
// An evaluation-style forward-only graph of a fixed chunk size shares the parameter buffer of a training state,
// so the reader follows the parameters as they change (after training steps, perturbations or restored
// checkpoints) and can be created once and reused. The graph's residual buffer (TransformerGraph.residual) is
// read back after each chunk's forward pass.
import type { GpuRuntime } from '../gpu/runtime';
import { taskHeadCount } from '../model/config';
import type { AnyModelConfig, BatchShape } from '../formats/model-config';
import { IGNORE_TARGET, type Batch } from '../model/batch';
import type { ParamState } from '../model/state';
import { buildTransformerGraph, type TransformerGraph } from '../model/transformer';

/** The sequences a reader runs: token ids [count * seqLen] and, for the encoder-decoder model, the source. */
export type Sequences = Pick<Batch, 'tokens' | 'source'>;

export class ResidualStreamReader {
  private constructor(
    private readonly rt: GpuRuntime,
    readonly graph: TransformerGraph,
    /** Targets of a chunk: all ignored (the forward pass's loss is not used). */
    private readonly noTargets: Int32Array,
  ) {}

  /** `chunk` sequences per forward pass (bounds the activation memory). */
  static async create(rt: GpuRuntime, config: AnyModelConfig, state: ParamState, shape: Omit<BatchShape, 'batch'>, chunk: number): Promise<ResidualStreamReader> {
    if (!(Number.isInteger(chunk) && chunk > 0)) throw new Error(`chunk must be a positive integer, got ${chunk}`);
    const graph = await buildTransformerGraph(rt, config, state, { ...shape, batch: chunk }, { backward: false });
    const noTargets = new Int32Array(chunk * shape.readout.count * taskHeadCount(config)).fill(IGNORE_TARGET);
    return new ResidualStreamReader(rt, graph, noTargets);
  }

  get dModel(): number {
    return this.graph.config.dModel;
  }

  /** Positions per sequence of the stream (the decoder's length in the encoder-decoder model). */
  get seqLen(): number {
    return this.graph.shape.seqLen;
  }

  /** The residual stream of every position of every sequence: [count * seqLen, dModel], row-major. */
  async read(data: Sequences): Promise<Float32Array> {
    const { batch: size, seqLen, sourceLen } = this.graph.shape;
    const count = data.tokens.length / seqLen;
    if (!Number.isInteger(count)) throw new Error(`${data.tokens.length} tokens are not whole sequences of ${seqLen}`);
    if (sourceLen !== undefined && data.source?.length !== count * sourceLen) {
      throw new Error(`the encoder-decoder model needs ${count * sourceLen} source tokens (${count} x ${sourceLen}), got ${data.source?.length ?? 'none'}`);
    }
    const rowFloats = seqLen * this.dModel;
    const out = new Float32Array(count * rowFloats);
    for (let start = 0; start < count; start += size) {
      const n = Math.min(size, count - start);
      const tokens = padChunk(data.tokens, seqLen, start, n, size);
      const source = sourceLen !== undefined && data.source ? padChunk(data.source, sourceLen, start, n, size) : undefined;
      this.graph.setBatch({ tokens, targets: this.noTargets, ...(source && { source }) });
      const encoder = this.rt.device.createCommandEncoder({ label: 'residual stream' });
      this.rt.encode(encoder, this.graph.forward);
      const read = this.rt.scheduleRead(encoder, this.graph.residual, 0, n * rowFloats * 4);
      this.rt.device.queue.submit([encoder.finish()]);
      out.set(new Float32Array(await read()), start * rowFloats);
    }
    return out;
  }
}

/** Sequences [start, start + n) of `all` (each `len` long) as `size` sequences, the missing ones copies of the first. */
function padChunk(all: Uint32Array, len: number, start: number, n: number, size: number): Uint32Array {
  const out = new Uint32Array(size * len);
  out.set(all.subarray(start * len, (start + n) * len));
  for (let i = n; i < size; i++) out.copyWithin(i * len, 0, len);
  return out;
}
