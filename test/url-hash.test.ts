// The configuration in the URL hash: round trips (form and schedule -> hash -> the same form and schedule), only
// non-default values written, and problems in a link reported rather than dropped. Also the run form's
// validation, which turns a form (from a link or typed) into the start request.
import { describe, expect, it } from 'vitest';
import { decodeHash, encodeHash } from '../src/store/url-hash';
import { defaultForm, formOf, formParamCount, moreSettingsChanged, validateForm, type RunForm } from '../src/store/run-form';
import { buildParamTable } from '../src/model/params';
import { resolveRunConfig } from '../src/train/run';

const form = (preset: RunForm['preset'], values: Partial<RunForm['values']>): RunForm => {
  const f = defaultForm(preset);
  return { preset, values: { ...f.values, ...values } };
};

describe('URL hash', () => {
  it('writes only what differs from the preset, and reads back the same form and schedule', () => {
    expect(encodeHash({ form: defaultForm(), schedule: [] })).toBe('#preset=quick-add&seed=1');
    const state = {
      form: form('modarith', { seed: '42', weightDecay: '0.3', steps: '5000', op: 'mul', window: '20', snapshotEvery: '50', gapFlow: 'on' }),
      schedule: [
        { step: 1000, lr: 0.001, weightDecay: 0 },
        { step: 2500, lr: 0.0005, weightDecay: 1.5 },
      ],
    };
    const hash = encodeHash(state);
    expect(hash).toBe('#preset=modarith&seed=42&wd=0.3&steps=5000&op=mul&window=20&snap=50&gapflow=on&hyper=1000:0.001:0,2500:0.0005:1.5');
    const decoded = decodeHash(hash);
    expect(decoded.problems).toEqual([]);
    expect(decoded.form).toEqual(state.form);
    expect(decoded.schedule).toEqual(state.schedule);
    expect(encodeHash(decoded)).toBe(hash);
  });

  it('replays exactly: a run config from a decoded link equals one from the original form', () => {
    const original = form('quick-add', { seed: '3', lr: '0.02', evalEvery: '10' });
    const a = validateForm(original);
    const b = validateForm(decodeHash(encodeHash({ form: original, schedule: [] })).form);
    if (!a.ok || !b.ok) throw new Error('both forms are valid');
    expect(b.request).toEqual(a.request);
    expect(resolveRunConfig(b.request.preset, b.request.seed, b.request.overrides)).toEqual(resolveRunConfig(a.request.preset, a.request.seed, a.request.overrides));
  });

  it('carries Low-Rank Decay and its rate, and replays it', () => {
    const lrd = form('quick-add', { decay: 'lrd', lrdRate: '0.02' });
    const hash = encodeHash({ form: lrd, schedule: [] });
    expect(hash).toBe('#preset=quick-add&seed=1&decay=lrd&lrd=0.02');
    expect(decodeHash(hash).form).toEqual(lrd);
    const result = validateForm(decodeHash(hash).form);
    expect(result).toEqual({ ok: true, request: { preset: 'quick-add', seed: 1, overrides: { decay: 'lrd', lrdRate: 0.02 } } });
    if (!result.ok) throw new Error('valid');
    expect(resolveRunConfig('quick-add', 1, result.request.overrides).decay).toEqual({ kind: 'lrd', rate: 0.02, params: ['wq', 'wk'] });
  });

  it('carries the Low-Rank Decay matrices when they are not the default W_Q, W_K', () => {
    const lrd = form('quick-add', { decay: 'lrd', lrdRate: '0.02', lrdParams: 'wq,wk,wv' });
    const hash = encodeHash({ form: lrd, schedule: [] });
    expect(hash).toBe('#preset=quick-add&seed=1&decay=lrd&lrd=0.02&lrdp=wq,wk,wv');
    const result = validateForm(decodeHash(hash).form);
    expect(result).toEqual({ ok: true, request: { preset: 'quick-add', seed: 1, overrides: { decay: 'lrd', lrdRate: 0.02, lrdParams: ['wq', 'wk', 'wv'] } } });
    if (!result.ok) throw new Error('valid');
    expect(resolveRunConfig('quick-add', 1, result.request.overrides).decay).toEqual({ kind: 'lrd', rate: 0.02, params: ['wq', 'wk', 'wv'] });
    // Any order and spacing reads as the same choice; the default choice is no override.
    expect(validateForm(form('quick-add', { decay: 'lrd', lrdRate: '0.02', lrdParams: ' wk, wq,wq' }))).toEqual({ ok: true, request: { preset: 'quick-add', seed: 1, overrides: { decay: 'lrd', lrdRate: 0.02 } } });
    expect(validateForm(form('quick-add', { decay: 'lrd', lrdRate: '0.02', lrdParams: '' }))).toEqual({ ok: false, errors: { lrdParams: 'choose at least one matrix' } });
    expect(validateForm(form('quick-add', { decay: 'lrd', lrdRate: '0.02', lrdParams: 'wq,wz' }))).toEqual({ ok: false, errors: { lrdParams: 'unknown matrix "wz"; choose from wq, wk, wv, wo' } });
    // Under L2 the matrices are ignored, like the rate.
    expect(validateForm(form('quick-add', { decay: 'l2', lrdParams: '' }))).toEqual({ ok: true, request: { preset: 'quick-add', seed: 1, overrides: {} } });
  });

  it('reports what it cannot read and keeps the rest', () => {
    const decoded = decodeHash('#preset=quick-dyck&seed=4&colour=red&hyper=10:0.1');
    expect(decoded.form.preset).toBe('quick-dyck');
    expect(decoded.form.values.seed).toBe('4');
    expect(decoded.schedule).toEqual([]);
    expect(decoded.problems).toEqual([
      'the link has an unknown setting "colour" (known: preset, seed, lr, wd, decay, lrd, lrdp, steps, eval, op, window, snap, gapflow, causal, cevery, cseq, crandom, ceps, p, frac, batch, layers, dmodel, heads, dff, norm, qknorm, b1, b2, aeps, clip, hyper, classroom)',
      'the link\'s hyperparameter changes were not applied: hyper change 1 "10:0.1" is not step:lr:weightDecay (e.g. 120:0.01:0.5)',
    ]);
    expect(decodeHash('#preset=nope').problems[0]).toContain('the link names the preset "nope", which does not exist');
    expect(decodeHash('#hyper=20:0.1:1,10:0.1:0').problems[0]).toContain('schedule[1].step (10) comes before schedule[0].step (20)');
    expect(decodeHash('')).toEqual({ form: defaultForm(), schedule: [], classroom: false, problems: [] });
  });

  it('keeps classroom mode in the link (written only when on) without touching the run', () => {
    const state = { form: form('quick-add', { steps: '60', evalEvery: '5' }), schedule: [{ step: 20, lr: 0.01, weightDecay: 0.5 }] };
    expect(encodeHash({ ...state, classroom: false })).toBe(encodeHash(state));
    // In classroom mode the live causal probes are on by default: a form with them off says so.
    expect(encodeHash({ ...state, classroom: true })).toBe('#preset=quick-add&seed=1&steps=60&eval=5&causal=off&hyper=20:0.01:0.5&classroom=on');
    const probing = { ...state, form: { ...state.form, values: { ...state.form.values, causal: 'on' } } };
    const hash = encodeHash({ ...probing, classroom: true });
    expect(hash).toBe('#preset=quick-add&seed=1&steps=60&eval=5&hyper=20:0.01:0.5&classroom=on');
    expect(decodeHash(hash)).toEqual({ ...probing, classroom: true, problems: [] });
    expect(decodeHash('#preset=quick-add&classroom=on&causal=off').form.values.causal).toBe('off');
    expect(decodeHash('#classroom=off').classroom).toBe(false);
    const bad = decodeHash('#preset=quick-add&classroom=yes');
    expect(bad.classroom).toBe(false);
    expect(bad.problems).toEqual(['the link\'s classroom setting must be on or off, got "yes"']);
  });
});

describe('run form', () => {
  it('turns a form into overrides of just the changed values', () => {
    const result = validateForm(form('quick-add', { seed: '7', weightDecay: '0', steps: '300' }));
    expect(result).toEqual({ ok: true, request: { preset: 'quick-add', seed: 7, overrides: { weightDecay: 0, steps: 300 } } });
    expect(validateForm(defaultForm())).toEqual({ ok: true, request: { preset: 'quick-add', seed: 1, overrides: {} } });
  });

  it('gives each bad field its own message', () => {
    const result = validateForm(form('quick-add', { seed: '-1', lr: 'fast', weightDecay: '', steps: '10.5', evalEvery: '0', window: '1', op: 'div', gapFlow: 'yes' }));
    expect(result).toEqual({
      ok: false,
      errors: {
        seed: 'must be between 0 and 4,294,967,295, got -1',
        lr: 'must be a number (e.g. 0.001 or 1e-3), got "fast"',
        weightDecay: 'enter a weight decay',
        steps: 'must be a whole number, got "10.5"',
        evalEvery: 'must be between 1 and 1,000,000, got 0',
        window: 'must be between 2 and 64, got 1',
        op: 'choose one of add, sub, mul, x2y2, x2xyy2, x3xy',
        gapFlow: 'choose on or off, got "yes"',
      },
    });
    expect(validateForm(form('quick-add', { steps: '100', evalEvery: '200' }))).toEqual({ ok: false, errors: { evalEvery: 'must be between 1 and 100, got 200' } });
    expect(validateForm(form('quick-add', { lr: '0' }))).toEqual({ ok: false, errors: { lr: 'must be greater than 0, got 0' } });
    // The rate counts only with Low-Rank Decay.
    expect(validateForm(form('quick-add', { decay: 'lrd', lrdRate: '-0.1' }))).toEqual({ ok: false, errors: { lrdRate: 'must be at least 0, got -0.1' } });
    expect(validateForm(form('quick-add', { decay: 'l2', lrdRate: '-0.1' }))).toEqual({ ok: true, request: { preset: 'quick-add', seed: 1, overrides: {} } });
    expect(validateForm(form('quick-add', { decay: 'svd' }))).toEqual({ ok: false, errors: { decay: 'choose l2 or lrd, got "svd"' } });
  });

  it('rebuilds the form of a run from its preset, seed and overrides', () => {
    const overrides = { lr: 0.003, decay: 'lrd' as const, lrdRate: 0.05, lrdParams: ['wk' as const, 'wo' as const], steps: 900, op: 'sub' as const, spectral: { window: 4, gapFlow: true } };
    const f = formOf('modarith', 11, overrides);
    expect(validateForm(f)).toEqual({ ok: true, request: { preset: 'modarith', seed: 11, overrides } });
    expect(() => formOf('nope', 1, {})).toThrow('unknown preset "nope"');
  });
});

describe('More settings', () => {
  it('stay folded for the preset\'s own values and the key fields, and open for a link that changes one of them', () => {
    expect(moreSettingsChanged(defaultForm())).toBe(false);
    expect(moreSettingsChanged(defaultForm('modarith'))).toBe(false);
    expect(moreSettingsChanged(form('quick-add', { seed: '42', weightDecay: '0.3', steps: '300' }))).toBe(false);
    expect(moreSettingsChanged(form('modarith', { op: 'mul' }))).toBe(false);
    for (const values of [{ window: '3' }, { evalEvery: '5' }, { lr: '0.02' }, { decay: 'lrd' }, { gapFlow: 'on' }, { snapshotEvery: '5' }, { causal: 'on' }, { p: '17' }, { dModel: '32' }, { qkNorm: 'on' }, { clipNorm: '5' }]) {
      expect(moreSettingsChanged(form('quick-add', values)), JSON.stringify(values)).toBe(true);
    }
    expect(moreSettingsChanged(decodeHash('#preset=quick-add&seed=1&steps=60&eval=5&window=3&snap=5').form)).toBe(true);
  });
});

describe('the live causal probes in the form and the link', () => {
  it('are off by default; on, blank options are the engine’s defaults and only the given ones become overrides', () => {
    expect(defaultForm().values.causal).toBe('off');
    expect(defaultForm('quick-add', true).values.causal).toBe('on');
    expect(validateForm(form('quick-add', { causal: 'on' }))).toEqual({ ok: true, request: { preset: 'quick-add', seed: 1, overrides: { causal: { enabled: true } } } });
    const result = validateForm(form('quick-add', { causal: 'on', causalEvery: '40', causalSequences: '64', causalRandom: '2', causalEps: '0.01' }));
    expect(result).toEqual({ ok: true, request: { preset: 'quick-add', seed: 1, overrides: { causal: { enabled: true, every: 40, sequences: 64, randomPairs: 2, epsRelative: 0.01 } } } });
    if (!result.ok) return;
    // The engine resolves them as asked: the form's checks are its checks.
    expect(resolveRunConfig('quick-add', 1, result.request.overrides).causal).toEqual({ enabled: true, every: 40, sequences: 64, randomPairs: 2, epsRelative: 0.01 });
    expect(resolveRunConfig('quick-add', 1, { causal: { enabled: true } }).causal).toMatchObject({ enabled: true, every: 100, sequences: 256 });
    // Off, whatever the options hold is ignored.
    expect(validateForm(form('quick-add', { causal: 'off', causalEvery: 'often' }))).toEqual({ ok: true, request: { preset: 'quick-add', seed: 1, overrides: {} } });
  });

  it('gives each bad option its own one-line message, with its allowed range', () => {
    const result = validateForm(form('quick-add', { causal: 'on', causalEvery: '30', causalSequences: '500', causalRandom: '0', causalEps: '0' }));
    expect(result).toEqual({
      ok: false,
      errors: {
        causalEvery: 'must be a multiple of the snapshot interval (20 steps), got 30',
        causalSequences: 'must be between 1 and 385 (the test set’s size), got 500',
        causalRandom: 'must be between 1 and 64, got 0',
        causalEps: 'must be greater than 0, got 0',
      },
    });
    expect(validateForm(form('quick-add', { causal: 'on', causalEps: 'NaN' }))).toEqual({ ok: false, errors: { causalEps: 'must be a number (e.g. 0.001 or 1e-3), got "NaN"' } });
    expect(validateForm(form('quick-add', { causal: 'on', snapshotEvery: '5', causalEvery: '15' })).ok).toBe(true);
    expect(validateForm(form('quick-add', { causal: 'maybe' }))).toEqual({ ok: false, errors: { causal: 'choose on or off, got "maybe"' } });
  });

  it('travel in the link and come back from a run’s overrides', () => {
    const f = form('quick-add', { causal: 'on', causalEvery: '40', causalSequences: '64' });
    const hash = encodeHash({ form: f, schedule: [] });
    expect(hash).toBe('#preset=quick-add&seed=1&causal=on&cevery=40&cseq=64');
    expect(decodeHash(hash).form).toEqual(f);
    const overrides = { causal: { enabled: true, every: 40, sequences: 64 } };
    expect(formOf('quick-add', 1, overrides).values).toMatchObject({ causal: 'on', causalEvery: '40', causalSequences: '64', causalRandom: '', causalEps: '' });
    expect(formOf('quick-add', 1, { causal: { enabled: false } }).values.causal).toBe('off');
    expect(formOf('quick-add', 1, {}).values.causal).toBe('off');
  });
});

describe('the task, the model and AdamW in the form and the link (docs/science.md §1)', () => {
  it('become overrides of just the changed values, and make the run the CLI would', () => {
    expect(validateForm(defaultForm('quick-dyck'))).toEqual({ ok: true, request: { preset: 'quick-dyck', seed: 1, overrides: {} } });
    const values = { p: '17', trainFraction: '0.5', nLayers: '2', dModel: '32', nHeads: '2', dFF: '48', norm: 'rms', qkNorm: 'on', beta1: '0.8', beta2: '0.95', adamEps: '1e-6', clipNorm: '0.5' };
    const overrides = { p: 17, trainFraction: 0.5, nLayers: 2, dModel: 32, nHeads: 2, dFF: 48, norm: 'rms', qkNorm: true, beta1: 0.8, beta2: 0.95, eps: 1e-6, clipNorm: 0.5 };
    const result = validateForm(form('quick-add', values));
    expect(result).toEqual({ ok: true, request: { preset: 'quick-add', seed: 1, overrides } });
    if (!result.ok) throw new Error('unreachable');
    expect(resolveRunConfig('quick-add', 1, result.request.overrides).model).toMatchObject({ vocabSize: 17, nLayers: 2, dModel: 32, norm: 'rms', qkNorm: true });
    // The batch is the minibatch presets' only.
    expect(validateForm(form('quick-dyck', { batch: '20' }))).toEqual({ ok: true, request: { preset: 'quick-dyck', seed: 1, overrides: { batch: 20 } } });
    expect(defaultForm('quick-add').values.batch).toBe('');
    expect(defaultForm('quick-dyck').values.p).toBe('');
  });

  it('give each bad field its own message', () => {
    const result = validateForm(form('quick-add', { p: '30', trainFraction: '1', nLayers: '0', dModel: '64', nHeads: '3', dFF: 'wide', norm: 'batch', beta1: '1', beta2: '-0.1', adamEps: '0', clipNorm: 'none' }));
    expect(result).toEqual({
      ok: false,
      errors: {
        p: 'must be a prime (e.g. 31 or 97), got 30',
        trainFraction: 'must be less than 1, got 1',
        nLayers: 'must be between 1 and 64, got 0',
        nHeads: 'must divide d_model (64), got 3',
        dFF: 'must be a whole number, got "wide"',
        norm: 'choose layer or rms, got "batch"',
        beta1: 'must be less than 1, got 1',
        beta2: 'must be at least 0, got -0.1',
        adamEps: 'must be greater than 0, got 0',
        clipNorm: 'must be a number (e.g. 0.001 or 1e-3), got "none"',
      },
    });
    expect(validateForm(form('quick-dyck', { batch: '0' }))).toEqual({ ok: false, errors: { batch: 'must be between 1 and 65,536, got 0' } });
    // A fraction of the p^2 pairs (mul: (p - 1)^2) too small to leave one to train on, as the engine would refuse it.
    expect(validateForm(form('quick-add', { p: '3', trainFraction: '0.1' }))).toEqual({ ok: false, errors: { trainFraction: 'leaves no pair to train on: 0.1 of the 9 pairs' } });
    expect(validateForm(form('quick-add', { p: '3', trainFraction: '0.12' })).ok).toBe(true);
    expect(validateForm(form('quick-add', { p: '3', op: 'mul', trainFraction: '0.2' }))).toEqual({ ok: false, errors: { trainFraction: 'leaves no pair to train on: 0.2 of the 4 pairs' } });
  });

  it('travel in the link and come back from a run file’s overrides', () => {
    const f = form('quick-add', { p: '17', trainFraction: '0.5', dModel: '32', nHeads: '2', qkNorm: 'on', beta2: '0.99' });
    const hash = encodeHash({ form: f, schedule: [] });
    expect(hash).toBe('#preset=quick-add&seed=1&p=17&frac=0.5&dmodel=32&heads=2&qknorm=on&b2=0.99');
    expect(decodeHash(hash)).toEqual({ form: f, schedule: [], classroom: false, problems: [] });
    // A run the CLI made with every §1 option opens as the form that starts it again.
    const overrides = { trainFraction: 0.4, p: 23, nLayers: 2, dModel: 48, nHeads: 6, dFF: 96, norm: 'rms' as const, qkNorm: true, beta1: 0.85, beta2: 0.9, eps: 1e-7, clipNorm: 2 };
    expect(validateForm(formOf('quick-add', 3, overrides))).toEqual({ ok: true, request: { preset: 'quick-add', seed: 3, overrides } });
    expect(validateForm(formOf('dyck', 3, { batch: 64 }))).toEqual({ ok: true, request: { preset: 'dyck', seed: 3, overrides: { batch: 64 } } });
  });

  it('count the parameters of the model the form describes', () => {
    // docs/science.md §1's exact counts for the presets' own models.
    expect(formParamCount(defaultForm('quick-add'))).toBe(37_727);
    expect(formParamCount(defaultForm('modarith'))).toBe(290_401);
    expect(formParamCount(defaultForm('dyck'))).toBe(273_421);
    const smaller = form('quick-add', { p: '17', dModel: '32', nHeads: '2' });
    expect(formParamCount(smaller)).toBe(buildParamTable(resolveRunConfig('quick-add', 1, { p: 17, dModel: 32, nHeads: 2 }).model).total);
    // Embeddings 17 x 32 + 2 x 32, one block (2 norms of 64, QKV 32 x 96 + 96, W_O 32 x 32 + 32, W1 32 x 128 + 128,
    // W2 128 x 32 + 32), the final norm 64 and the head 32 x 17 + 17.
    expect(formParamCount(smaller)).toBe(544 + 64 + (64 + 3_168 + 1_056 + 64 + 4_224 + 4_128) + 64 + 561);
    expect(formParamCount(form('quick-add', { nHeads: '3' }))).toBeNull();
  });
});
