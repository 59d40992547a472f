import { describe, expect, it } from 'vitest';
import { buildParamTable, initParams } from '../src/model/params';
import { PRESET_SHAPES } from '../src/train/presets';

describe('parameter table', () => {
  it.each([
    ['modarith', 290_401, 131_072],
    ['dyck', 273_421, 131_072],
    ['quick-add', 37_727, 16_384],
    ['quick-dyck', 71_181, 32_768],
  ] as const)('%s has exactly %i parameters and a %i-float theta_attn', (name, total, attn) => {
    const table = buildParamTable(PRESET_SHAPES[name].model);
    expect(table.total).toBe(total);
    expect(table.attn).toEqual({ offset: 0, size: attn });
  });

  it('RMSNorm drops every norm bias and QK-norm adds a q and a k gain per attention, outside theta_attn', () => {
    const add = PRESET_SHAPES['quick-add'].model;
    const scan = PRESET_SHAPES.scan.model;
    // quick-add: 1 layer, d 64, 4 heads of 16: norms ln1, ln2, lnf; one attention module.
    expect(buildParamTable({ ...add, norm: 'rms' }).total).toBe(37_727 - 3 * 64);
    expect(buildParamTable({ ...add, qkNorm: true }).total).toBe(37_727 + 2 * 16);
    // SCAN: encoder 3 x (ln1, ln2) + lnf, decoder 3 x (ln1, ln_cross, ln2) + lnf = 17 norms of 256; 3 + 2 x 3 attention
    // modules with heads of 64.
    const scanTotal = buildParamTable(scan).total;
    expect(buildParamTable({ ...scan, norm: 'rms', qkNorm: true }).total).toBe(scanTotal - 17 * 256 + 9 * 2 * 64);
    for (const [base, modules] of [[add, 1], [scan, 9]] as const) {
      const config = { ...base, norm: 'rms', qkNorm: true } as const;
      const table = buildParamTable(config);
      expect(table.attn).toEqual(buildParamTable(base).attn);
      expect(table.slices.filter((s) => /\.(ln1|ln2|ln_cross|lnf)\.b$|^lnf\.b$/.test(s.name))).toEqual([]);
      const gains = table.slices.filter((s) => s.name.endsWith('_norm.g'));
      expect(gains.length).toBe(2 * modules);
      for (const g of gains) {
        expect(g.offset).toBeGreaterThanOrEqual(table.attn.size);
        expect(g.init).toEqual({ kind: 'ones' });
      }
      // Each module's k gain follows its q gain: the kernel reads them as one pair from q_norm.g.
      for (const g of gains.filter((s) => s.name.endsWith('q_norm.g'))) expect(table.get(g.name.replace('q_norm', 'k_norm')).offset).toBe(g.offset + g.size);
    }
    expect(buildParamTable({ ...add, qkNorm: true }).get('layers.0.attn.q_norm.g').shape).toEqual([16]);
    expect(buildParamTable({ ...scan, qkNorm: true }).get('decoder.layers.2.cross.k_norm.g').shape).toEqual([64]);
  });

  it('keeps every other parameter\'s initial value with the architecture options', () => {
    const config = PRESET_SHAPES['quick-dyck'].model;
    const plain = buildParamTable(config);
    const options = buildParamTable({ ...config, norm: 'rms', qkNorm: true });
    const [a, b] = [initParams(plain, 5), initParams(options, 5)];
    for (const s of options.slices.filter((s) => !s.name.endsWith('_norm.g'))) {
      const p = plain.get(s.name);
      expect(b.subarray(s.offset, s.offset + s.size), s.name).toEqual(a.subarray(p.offset, p.offset + p.size));
    }
  });

  it('slices tile the flat buffer without gaps or overlaps', () => {
    const table = buildParamTable(PRESET_SHAPES.dyck.model);
    let next = 0;
    for (const s of table.slices) {
      expect(s.offset, s.name).toBe(next);
      expect(s.size).toBe(s.shape.reduce((a, b) => a * b, 1));
      next += s.size;
    }
    expect(next).toBe(table.total);
  });

  it('initialises from the seed, with the PyTorch default distributions', () => {
    const table = buildParamTable(PRESET_SHAPES.modarith.model);
    const a = initParams(table, 7);
    expect(initParams(table, 7)).toEqual(a);
    expect(initParams(table, 8)).not.toEqual(a);
    const slice = (n: string) => { const s = table.get(n); return a.subarray(s.offset, s.offset + s.size); };
    const std = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
    expect(std(slice('tok_emb'))).toBeCloseTo(1, 1);
    expect(std(slice('pos_emb'))).toBeGreaterThan(0.5 / Math.sqrt(128));
    expect(std(slice('pos_emb'))).toBeLessThan(2 / Math.sqrt(128));
    const bound = Math.sqrt(6 / (4 * 128));
    expect(Math.max(...slice('layers.0.attn.wq').map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...slice('layers.0.attn.wq').map(Math.abs))).toBeGreaterThan(0.95 * bound);
    expect(slice('layers.1.ln2.g').every((x) => x === 1)).toBe(true);
    expect(slice('layers.1.attn.bqkv').every((x) => x === 0)).toBe(true);
  });
});
