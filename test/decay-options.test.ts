// The weight-decay options without a GPU: the CLI flags (--decay, --lrd-rate, --lrd-params) and their messages, the
// run overrides a program sets (decay, lrdRate, lrdParams) as resolveRunConfig checks and records them, the run
// file's schema, the AdamW decay mask of a Low-Rank Decay run, and the real `npm run experiment` refusing bad flags
// (and configuration flags with --resume) before it touches the GPU.
import { describe, expect, it } from 'vitest';
import { decayOverrides, DECAY_DEFAULTS, type DecayArgs } from '../src/cli/decay-options';
import { UsageError } from '../src/cli/args';
import { resolveRunConfig } from '../src/train/run';
import { RUN_SCHEMA, type RunOverrides } from '../src/formats/run-file';
import { decayMask, lowRankDecaySlices } from '../src/model/decay-mask';
import { decays } from '../src/formats/optim';
import { buildParamTable } from '../src/model/params';
import { PRESETS } from '../src/train/presets';
import Ajv from 'ajv';
import { runScript } from './helpers/cli';

const flags = (given: Partial<DecayArgs>) => decayOverrides({ ...DECAY_DEFAULTS, ...given });

describe('--decay, --lrd-rate and --lrd-params', () => {
  it('become the decay overrides, only those given', () => {
    expect(flags({})).toEqual({});
    expect(flags({ decay: 'l2' })).toEqual({ decay: 'l2' });
    expect(flags({ decay: 'lrd', 'lrd-rate': '0.01' })).toEqual({ decay: 'lrd', lrdRate: 0.01 });
    expect(flags({ decay: 'lrd', 'lrd-rate': '0', 'lrd-params': 'wq, wk,wv' })).toEqual({ decay: 'lrd', lrdRate: 0, lrdParams: ['wq', 'wk', 'wv'] });
  });

  it('reject a bad combination or value with a message naming the flag', () => {
    const bad: [Partial<DecayArgs>, RegExp][] = [
      [{ 'lrd-rate': '0.01' }, /^--lrd-rate needs --decay lrd$/],
      [{ decay: 'l2', 'lrd-params': 'wq' }, /^--lrd-params needs --decay lrd$/],
      [{ 'lrd-rate': '0.01', 'lrd-params': 'wq' }, /^--lrd-rate and --lrd-params need --decay lrd$/],
      [{ decay: 'weight' }, /--decay must be l2 or lrd, got "weight"/],
      [{ decay: 'lrd' }, /--decay lrd needs --lrd-rate/],
      [{ decay: 'lrd', 'lrd-rate': '-0.5' }, /--lrd-rate must be >= 0, got -0.5/],
      [{ decay: 'lrd', 'lrd-rate': 'fast' }, /--lrd-rate must be a number, got "fast"/],
      [{ decay: 'lrd', 'lrd-rate': '0.1', 'lrd-params': 'wq,wz' }, /unknown matrix "wz"; choose from wq, wk, wv, wo/],
      [{ decay: 'lrd', 'lrd-rate': '0.1', 'lrd-params': 'wq,wq' }, /names a matrix twice/],
    ];
    for (const [given, message] of bad) {
      expect(() => flags(given), JSON.stringify(given)).toThrow(UsageError);
      expect(() => flags(given), JSON.stringify(given)).toThrow(message);
    }
  });
});

describe('decay overrides of a run', () => {
  it('default to L2 (recorded), and resolve Low-Rank Decay with W_Q and W_K unless told otherwise', () => {
    expect(resolveRunConfig('quick-add', 1, {}).decay).toEqual({ kind: 'l2' });
    expect(resolveRunConfig('quick-add', 1, { decay: 'lrd', lrdRate: 0.01 }).decay).toEqual({ kind: 'lrd', rate: 0.01, params: ['wq', 'wk'] });
    const config = resolveRunConfig('scan', 1, { decay: 'lrd', lrdRate: 0.2, lrdParams: ['wo'] });
    expect(config.decay).toEqual({ kind: 'lrd', rate: 0.2, params: ['wo'] });
    expect(config.overrides).toEqual({ decay: 'lrd', lrdRate: 0.2, lrdParams: ['wo'] });
    // The weight decay of the other parameters is the run's, unchanged.
    expect(config.optim.weightDecay).toBe(PRESETS.scan.optim.weightDecay);
  });

  it('are checked, each message naming the override', () => {
    const bad: [RunOverrides, RegExp][] = [
      [{ lrdRate: 0.01 }, /lrdRate applies to decay 'lrd' \(Low-Rank Decay\) only/],
      [{ decay: 'l2', lrdRate: 0.01, lrdParams: ['wq'] }, /lrdRate and lrdParams apply to decay 'lrd'/],
      [{ decay: 'lrd' }, /decay 'lrd' needs lrdRate/],
      [{ decay: 'lrd', lrdRate: -1 }, /lrdRate: must be a finite number >= 0, got -1/],
      [{ decay: 'lrd', lrdRate: Number.NaN }, /lrdRate: must be a finite number >= 0, got NaN/],
      [{ decay: 'lrd', lrdRate: 0.1, lrdParams: [] }, /lrdParams: must name at least one matrix/],
      [{ decay: 'lrd', lrdRate: 0.1, lrdParams: ['wq', 'bq' as never] }, /lrdParams: unknown matrix "bq"/],
      [{ decay: 'orthogonal' as never }, /unknown decay "orthogonal"; choose from l2, lrd/],
    ];
    for (const [overrides, message] of bad) expect(() => resolveRunConfig('quick-add', 1, overrides), JSON.stringify(overrides)).toThrow(message);
  });

  it('fit the run file schema, old configurations without them too', () => {
    const validate = new Ajv({ discriminator: true }).compile(RUN_SCHEMA.properties.config);
    const lrd = resolveRunConfig('quick-add', 1, { decay: 'lrd', lrdRate: 0.01, lrdParams: ['wk'] });
    expect(validate(JSON.parse(JSON.stringify(lrd))), JSON.stringify(validate.errors)).toBe(true);
    const { decay: _decay, ...old } = resolveRunConfig('quick-add', 1, {});
    expect(validate(JSON.parse(JSON.stringify(old)))).toBe(true);
    expect(validate({ ...lrd, decay: { kind: 'lrd', rate: 0.01 } })).toBe(false);
    expect(validate({ ...lrd, decay: { kind: 'l2', rate: 0.01 } })).toBe(false);
  });

  it('leave AdamW decay on every parameter but the chosen matrices of every attention module', () => {
    const config = resolveRunConfig('scan', 1, { decay: 'lrd', lrdRate: 0.01 });
    const table = buildParamTable(config.model);
    const chosen = lowRankDecaySlices(table, config.decay!);
    // 3 encoder layers, 3 decoder layers with self- and cross-attention: 9 modules, W_Q and W_K each.
    expect(chosen.map((s) => s.name).slice(0, 2)).toEqual(['encoder.layers.0.attn.wq', 'encoder.layers.0.attn.wk']);
    expect(chosen.map((s) => s.name)).toContain('decoder.layers.2.cross.wk');
    expect(chosen.length).toBe(18);
    const mask = decayMask(table, config.decay!);
    const inChosen = new Uint8Array(table.total);
    for (const s of chosen) inChosen.fill(1, s.offset, s.offset + s.size);
    let undecayed = 0;
    let wrong = 0;
    for (let i = 0; i < table.total; i++) {
      if (decays(mask, i) !== (inChosen[i] === 0)) wrong++;
      undecayed += inChosen[i];
    }
    expect(wrong).toBe(0);
    expect(undecayed).toBe(18 * 256 * 256);
    expect(lowRankDecaySlices(table, { kind: 'l2' })).toEqual([]);
    expect(decayMask(table, { kind: 'l2' }).every((w) => w === 0xffffffff)).toBe(true);
  });
});

describe('npm run experiment', () => {
  it('refuses bad decay flags with exit code 2 and the usage, before any GPU work', async () => {
    const run = (...args: string[]) => runScript('experiment', '--preset', 'quick-add', ...args);
    const noDecay = await run('--lrd-rate', '0.01');
    expect(noDecay.code).toBe(2);
    expect(noDecay.stderr).toContain('experiment: --lrd-rate needs --decay lrd');
    expect(noDecay.stderr).toContain('--decay l2|lrd');
    const negative = await run('--decay', 'lrd', '--lrd-rate', '-1');
    expect(negative.code).toBe(2);
    expect(negative.stderr).toContain('experiment: --lrd-rate must be >= 0, got -1');
  });

  it('refuses configuration flags with --resume, switches included, since the checkpoint holds the configuration', async () => {
    const resumed = await runScript('experiment', '--resume', 'none.ckpt', '--qk-norm', '--wd', '0');
    expect(resumed.code).toBe(2);
    expect(resumed.stderr).toContain('--resume continues the saved configuration; drop --wd, --qk-norm');
  });
});
