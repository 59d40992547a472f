// The run's settings. In view: seed, weight decay, length and (modular arithmetic) the operation. Under "More
// settings" (folded unless one of them differs from the preset): learning rate, the kind of decay (L2, or Low-Rank
// Decay of chosen matrices with its rate), evaluation cadence, the spectral edge's window, the gap-flow terms and the
// live causal probes; then the task and model (modulus, train fraction, batch, size, norms) and AdamW's constants.
// Each field is checked as it is typed, with its own message; the hyperparameter changes a start will replay (from a
// link or the current run) are listed and can be cleared.
import { useEffect, useId, useMemo, useState } from 'react';
import { MOD_OPS } from '../tasks/modarith';
import type { ModOp } from '../formats/task';
import { MORE_SETTINGS, formParamCount, hasBatch, hasOp, isModular, lrdParamsText, moreSettingsChanged, validateForm, type FormErrors } from '../store/run-form';
import { LRD_PARAMS, type LrdParam } from '../formats/optim';
import { OP_LABELS } from './preset-info';
import { PRESETS } from '../train/presets';
import { labStore, useLab } from './lab';
import { LiveCausalFields } from './live-causal/LiveCausalFields';
import { SelectField, SwitchField, TextField } from './FormFields';

const OP_OPTIONS = (Object.keys(MOD_OPS) as ModOp[]).map((op) => [op, OP_LABELS[op]] as const);
const DECAY_OPTIONS = [['l2', 'L2 (AdamW)'], ['lrd', 'Low-rank']] as const;
const NORM_OPTIONS = [['layer', 'LayerNorm'], ['rms', 'RMSNorm']] as const;

const LRD_LABEL: Record<LrdParam, string> = { wq: 'W_Q', wk: 'W_K', wv: 'W_V', wo: 'W_O' };

/** Which matrices Low-Rank Decay acts on (of every attention module). */
function LrdParamsField({ error }: { error?: string }) {
  const id = useId();
  const value = useLab((s) => s.form.values.lrdParams);
  const chosen = value.split(',').map((n) => n.trim());
  const toggle = (name: LrdParam, on: boolean) => {
    const next = on ? [...chosen, name] : chosen.filter((n) => n !== name);
    labStore.getState().setField('lrdParams', lrdParamsText(LRD_PARAMS.filter((n) => next.includes(n))));
  };
  return (
    <fieldset className={error ? 'field invalid' : 'field'} aria-describedby={`${id}-hint`} data-testid="field-lrdParams">
      <legend>Low-rank decay on</legend>
      <span className="checkbox-row">
        {LRD_PARAMS.map((name) => (
          <label key={name}>
            <input type="checkbox" checked={chosen.includes(name)} onChange={(e) => toggle(name, e.target.checked)} /> {LRD_LABEL[name]}
          </label>
        ))}
      </span>
      <span id={`${id}-hint`} className={error ? 'field-error' : 'field-hint'}>
        {error ?? 'of every attention module'}
      </span>
    </fieldset>
  );
}

/** The settings under "More settings": folded, but open whenever one of them differs from the preset (a link's). */
function MoreSettings({ errors }: { errors: FormErrors }) {
  const form = useLab((s) => s.form);
  const changed = moreSettingsChanged(form);
  const params = useMemo(() => formParamCount(form), [form]);
  const hasError = MORE_SETTINGS.some((field) => errors[field] !== undefined);
  const [open, setOpen] = useState(changed || hasError);
  useEffect(() => {
    if (changed || hasError) setOpen(true);
  }, [changed, hasError]);
  return (
    <details className="more-settings" open={open} onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary data-testid="more-settings">More settings</summary>
      <div className="field-grid">
        <TextField field="lr" label="Learning rate" hint="AdamW, constant" error={errors.lr} />
        <SelectField
          field="decay"
          label="Decay"
          options={DECAY_OPTIONS}
          hint={form.values.decay === 'lrd' ? 'W ← W − rate·polar(W) each step on the matrices below; the rest keeps L2' : 'on every parameter'}
          error={errors.decay}
        />
        {form.values.decay === 'lrd' && <TextField field="lrdRate" label="Low-rank decay rate" hint="per step, not scaled by lr" error={errors.lrdRate} />}
        {form.values.decay === 'lrd' && <LrdParamsField error={errors.lrdParams} />}
        <TextField field="evalEvery" label="Evaluate every" hint="steps between chart points" error={errors.evalEvery} inputMode="numeric" />
        <TextField field="window" label="Window W" hint="updates per spectral window" error={errors.window} inputMode="numeric" />
        <TextField field="snapshotEvery" label="Snapshot every" hint="steps per update in the window" error={errors.snapshotEvery} inputMode="numeric" />
        <SwitchField field="gapFlow" label="Gap-flow terms" hint="curvature along the edge each window: a few extra passes" error={errors.gapFlow} />
        <LiveCausalFields errors={errors} />
      </div>
      <h3 className="settings-group">
        Task and model{params !== null && <span className="settings-note" data-testid="param-count"> · {params.toLocaleString('en')} parameters</span>}
      </h3>
      <div className="field-grid">
        {isModular(form.preset) && <TextField field="p" label="Modulus p" hint="a prime; the vocabulary and classes follow" error={errors.p} inputMode="numeric" />}
        {isModular(form.preset) && <TextField field="trainFraction" label="Train fraction" hint="of all pairs, in (0, 1)" error={errors.trainFraction} />}
        {hasBatch(form.preset) && <TextField field="batch" label="Batch" hint="sequences per minibatch" error={errors.batch} inputMode="numeric" />}
        <TextField field="nLayers" label="Layers" hint={PRESETS[form.preset].task.kind === 'scan' ? 'of the encoder and of the decoder' : 'transformer blocks'} error={errors.nLayers} inputMode="numeric" />
        <TextField field="dModel" label="d_model" hint="residual width" error={errors.dModel} inputMode="numeric" />
        <TextField field="nHeads" label="Heads" hint="attention heads; must divide d_model" error={errors.nHeads} inputMode="numeric" />
        <TextField field="dFF" label="d_ff" hint="MLP hidden width" error={errors.dFF} inputMode="numeric" />
        <SelectField field="norm" label="Norm" options={NORM_OPTIONS} hint="every norm of the model" error={errors.norm} />
        <SwitchField field="qkNorm" label="QK-norm" hint="RMS-normalise q and k per head, with learned gains" error={errors.qkNorm} />
      </div>
      <h3 className="settings-group">AdamW</h3>
      <div className="field-grid">
        <TextField field="beta1" label="β1" hint="first-moment decay, in [0, 1)" error={errors.beta1} />
        <TextField field="beta2" label="β2" hint="second-moment decay, in [0, 1)" error={errors.beta2} />
        <TextField field="adamEps" label="ε" hint="added to √v" error={errors.adamEps} />
        <TextField field="clipNorm" label="Gradient clip" hint="global norm, before the step" error={errors.clipNorm} />
      </div>
    </details>
  );
}

export function RunForm() {
  const form = useLab((s) => s.form);
  const schedule = useLab((s) => s.schedule);
  const result = validateForm(form);
  const errors = result.ok ? {} : result.errors;
  return (
    <fieldset className="section run-form">
      <legend>Settings</legend>
      <div className="field-grid">
        <TextField field="seed" label="Seed" hint="initialisation, split, batches" error={errors.seed} inputMode="numeric" />
        <TextField field="weightDecay" label="Weight decay" hint="0 = no grokking" error={errors.weightDecay} />
        <TextField field="steps" label="Steps" hint="length of the run" error={errors.steps} inputMode="numeric" />
        {hasOp(form.preset) && <SelectField field="op" label="Operation" options={OP_OPTIONS} hint={`${OP_LABELS.x2xyy2} and ${OP_LABELS.x3xy} should not grok`} error={errors.op} />}
      </div>
      <MoreSettings errors={errors} />
      {schedule.length > 0 && (
        <div className="schedule" data-testid="schedule">
          <p>
            Hyperparameter changes {schedule.length === 1 ? 'this run replays' : `this run replays (${schedule.length})`}:
          </p>
          <ol>
            {schedule.map((c, i) => (
              <li key={i}>
                after step {c.step.toLocaleString('en')}: lr {c.lr}, wd {c.weightDecay}
              </li>
            ))}
          </ol>
          <button type="button" className="link" onClick={() => labStore.getState().setSchedule([])}>
            Clear the changes
          </button>
        </div>
      )}
    </fieldset>
  );
}
