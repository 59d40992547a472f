// Attention entropy (docs/science.md §3.2: the perturbation sweep and the weight-decay intervention report it): the mean, over
// every attention layer (self- and cross-attention, TransformerGraph.attentionProbs), every head and every counted
// query row, of the entropy H = -sum_j p_j ln p_j (nats) of the row's attention distribution over the keys.
//
// Reduction: on the GPU each row's entropy is one float32 sum over its keys (shaders/attention_entropy.wgsl, a
// dispatch per layer encoded after the forward pass); the row entropies are read back (queries-fold fewer floats
// than the probabilities) and the counted ones are averaged in float64 on the CPU.
//
// Counted rows: the rows of real sequences (not the copies that pad a chunk to the graph's batch), whose query is a
// real token, and that see at least one key. The key mask treats a PAD position as absent: it hides PAD keys from
// every query. A PAD query row is still computed (it attends to the real keys) but stands for no token, so by the
// same mask it is not counted either; nor is a row that sees no key at all (its probabilities are all 0: e.g. a
// cross-attention row whose source is all PAD). Models without a PAD token count every row of real sequences.
// Every layer and head has equal weight per counted row (a plain mean over (layer, head, row) triples).
import source from '../../shaders/attention_entropy.wgsl?raw';
import { at, groups, u32, type Dispatch, type GpuRuntime } from '../gpu/runtime';
import { instantiateKernel, read, write } from '../gpu/kernel-template';
import { IGNORE_TARGET, keyValidMask, stackTokens, type Batch } from '../model/batch';
import { modelStacks, taskHeadCount } from '../model/config';
import type { AttentionProbs, TransformerGraph } from '../model/transformer';

const WG = 64;

/** The sequences an entropy is taken over: tokens (and the encoder-decoder model's source); targets are not used. */
export type EntropySequences = Pick<Batch, 'tokens' | 'source'>;

interface Layer {
  probs: AttentionProbs;
  /** First row of this layer in the row-entropy buffer. */
  offset: number;
  rows: number;
}

/** Row entropies of every attention layer of one graph, on the GPU, and their mean over the counted rows. */
export class AttentionEntropy {
  private constructor(
    private readonly rt: GpuRuntime,
    readonly graph: TransformerGraph,
    private readonly layers: Layer[],
    /** Row entropies of all layers, concatenated in attentionProbs order, each [batch, heads, queries]. */
    readonly rowEntropy: GPUBuffer,
    readonly rowCount: number,
    /** Encode after the graph's forward pass. */
    readonly dispatches: Dispatch[],
  ) {}

  static async create(rt: GpuRuntime, graph: TransformerGraph): Promise<AttentionEntropy> {
    const batch = graph.shape.batch;
    const layers: Layer[] = [];
    let rowCount = 0;
    for (const probs of graph.attentionProbs) {
      const rows = batch * probs.heads * probs.queries;
      layers.push({ probs, offset: rowCount, rows });
      rowCount += rows;
    }
    const rowEntropy = rt.storage('attentionEntropy.rows', rowCount * 4);
    const dispatches = await Promise.all(
      layers.map(({ probs, offset, rows }) => {
        const k = instantiateKernel(source, {
          label: 'attention_entropy',
          uniforms: { rows: u32(rows), keys: u32(probs.keys) },
          tensors: { probs: read(at(probs.buffer, probs.offset), rows * probs.keys), entropy: write(at(rowEntropy, offset), rows) },
          fills: { WG: `${WG}u` },
        });
        return rt.dispatch(k.kernel, { params: k.params, buffers: k.buffers, workgroups: [groups(rows, WG)] });
      }),
    );
    return new AttentionEntropy(rt, graph, layers, rowEntropy, rowCount, dispatches);
  }

  /** Records the row entropies (after the forward pass in the same encoder) and a read of them. */
  encodeAndRead(encoder: GPUCommandEncoder): () => Promise<Float32Array> {
    this.rt.encode(encoder, this.dispatches);
    const read = this.rt.scheduleRead(encoder, this.rowEntropy, 0, this.rowCount * 4);
    return async () => new Float32Array(await read());
  }

  /**
   * 1 for each row the mean counts (see the file header) when the graph runs `data` (graph.shape.batch sequences)
   * of which the first `real` are real, 0 for the others.
   */
  countedRows(data: EntropySequences, real: number): Uint8Array {
    const { config, shape } = this.graph;
    const stacks = modelStacks(config);
    const tokens = stackTokens(config, { ...data, targets: new Int32Array(0) });
    const counted = new Uint8Array(this.rowCount);
    for (const { probs, offset } of this.layers) {
      const { heads, queries, keys, stack, cross } = probs;
      const queryValid = keyValidMask(config, tokens[stack]);
      const keyValid = keyValidMask(config, tokens[cross ? stack - 1 : stack]);
      const causal = !cross && stacks[stack].causal;
      for (let b = 0; b < Math.min(real, shape.batch); b++) {
        // The first key that is not PAD (keys: the stack's own tokens, or the memory's), or `keys` if none is.
        let firstKey = 0;
        if (keyValid) while (firstKey < keys && keyValid[b * keys + firstKey] === 0) firstKey++;
        for (let i = 0; i < queries; i++) {
          const sees = causal ? firstKey <= i : firstKey < keys;
          if (!sees || (queryValid && queryValid[b * queries + i] === 0)) continue;
          for (let h = 0; h < heads; h++) counted[offset + (b * heads + h) * queries + i] = 1;
        }
      }
    }
    return counted;
  }

  destroy(): void {
    this.rowEntropy.destroy();
  }
}

/** The float64 sum and number of the counted row entropies. */
export function sumCounted(entropies: Float32Array, counted: Uint8Array): { sum: number; count: number } {
  if (entropies.length !== counted.length) throw new Error(`attention entropy: ${entropies.length} row entropies but ${counted.length} row flags`);
  let sum = 0;
  let count = 0;
  for (let r = 0; r < counted.length; r++) {
    if (!counted[r]) continue;
    sum += entropies[r];
    count += 1;
  }
  return { sum, count };
}

/** The mean of the counted row entropies; an error when no row counts. */
export function meanCounted(entropies: Float32Array, counted: Uint8Array): number {
  const { sum, count } = sumCounted(entropies, counted);
  if (count === 0) throw new Error('attention entropy: no attention row is counted (every query is PAD or sees no key)');
  return sum / count;
}

/** Sequences [start, start + n) of `all` (each `len` long) as `size` sequences, the missing ones copies of the first. */
function padChunk(all: Uint32Array, len: number, start: number, n: number, size: number): Uint32Array {
  const out = new Uint32Array(size * len);
  out.set(all.subarray(start * len, (start + n) * len));
  for (let i = n; i < size; i++) out.copyWithin(i * len, 0, len);
  return out;
}

/**
 * The mean attention entropy (nats) of the graph's model at the current parameters over the sequences of `data`:
 * the graph's forward pass runs chunk by chunk (graph.shape.batch sequences each, the last chunk padded with
 * copies of its first sequence, which are not counted). The graph's losses and logits are overwritten.
 */
export async function meanAttentionEntropy(rt: GpuRuntime, graph: TransformerGraph, data: EntropySequences): Promise<number> {
  const { batch: size, seqLen, sourceLen, readout } = graph.shape;
  const count = data.tokens.length / seqLen;
  if (!Number.isInteger(count) || count < 1) throw new Error(`attention entropy: ${data.tokens.length} tokens are not a positive number of sequences of ${seqLen}`);
  if (sourceLen !== undefined && data.source?.length !== count * sourceLen) {
    throw new Error(`attention entropy: the encoder-decoder model needs ${count * sourceLen} source tokens (${count} x ${sourceLen}), got ${data.source?.length ?? 'none'}`);
  }
  const entropy = await AttentionEntropy.create(rt, graph);
  const targets = new Int32Array(size * readout.count * taskHeadCount(graph.config)).fill(IGNORE_TARGET);
  try {
    let sum = 0;
    let counted = 0;
    for (let start = 0; start < count; start += size) {
      const n = Math.min(size, count - start);
      const tokens = padChunk(data.tokens, seqLen, start, n, size);
      const src = sourceLen !== undefined && data.source ? padChunk(data.source, sourceLen, start, n, size) : undefined;
      const chunk = { tokens, ...(src && { source: src }) };
      graph.setBatch({ ...chunk, targets });
      const encoder = rt.device.createCommandEncoder({ label: 'attention entropy' });
      rt.encode(encoder, graph.forward);
      const read = entropy.encodeAndRead(encoder);
      rt.device.queue.submit([encoder.finish()]);
      const part = sumCounted(await read(), entropy.countedRows(chunk, n));
      sum += part.sum;
      counted += part.count;
    }
    if (counted === 0) throw new Error('attention entropy: no attention row is counted (every query is PAD or sees no key)');
    return sum / counted;
  } finally {
    entropy.destroy();
  }
}
