// The run's settings. In view: seed, weight decay, length and (modular arithmetic) the operation. Under "More
// settings" (folded unless one of them differs from the preset): learning rate, the kind of decay (L2, or Low-Rank
// Decay of chosen matrices with its rate), evaluation cadence, the spectral edge's window, the gap-flow terms and the
// live causal probes. Each field is checked as it is typed, with its own message; the hyperparameter changes a start
// will replay (from a link or the current run) are listed and can be cleared.
import { useEffect, useId, useState } from 'react';
import { MOD_OPS } from '../tasks/modarith';
import type { ModOp } from '../formats/task';
import { MORE_SETTINGS, hasOp, lrdParamsText, moreSettingsChanged, validateForm, type FormErrors } from '../store/run-form';
import { LRD_PARAMS, type LrdParam } from '../formats/optim';
import { OP_LABELS } from './preset-info';
import { labStore, useLab } from './lab';
import { LiveCausalFields } from './live-causal/LiveCausalFields';
import { SwitchField, TextField } from './FormFields';

function OpField() {
  const id = useId();
  const value = useLab((s) => s.form.values.op);
  return (
    <div className="field">
      <label htmlFor={id}>Operation</label>
      <select id={id} value={value} onChange={(e) => labStore.getState().setField('op', e.target.value)} data-testid="field-op">
        {(Object.keys(MOD_OPS) as ModOp[]).map((op) => (
          <option key={op} value={op}>
            {OP_LABELS[op]}
          </option>
        ))}
      </select>
      <span className="field-hint">
        {OP_LABELS.x2xyy2} and {OP_LABELS.x3xy} should not grok
      </span>
    </div>
  );
}

function DecayField({ error }: { error?: string }) {
  const id = useId();
  const value = useLab((s) => s.form.values.decay);
  return (
    <div className={error ? 'field invalid' : 'field'}>
      <label htmlFor={id}>Decay</label>
      <select id={id} value={value} onChange={(e) => labStore.getState().setField('decay', e.target.value)} aria-describedby={`${id}-hint`} data-testid="field-decay">
        <option value="l2">L2 (AdamW)</option>
        <option value="lrd">Low-rank</option>
      </select>
      <span id={`${id}-hint`} className={error ? 'field-error' : 'field-hint'}>
        {error ?? (value === 'lrd' ? 'W ← W − rate·polar(W) each step on the matrices below; the rest keeps L2' : 'on every parameter')}
      </span>
    </div>
  );
}

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
        <DecayField error={errors.decay} />
        {form.values.decay === 'lrd' && <TextField field="lrdRate" label="Low-rank decay rate" hint="per step, not scaled by lr" error={errors.lrdRate} />}
        {form.values.decay === 'lrd' && <LrdParamsField error={errors.lrdParams} />}
        <TextField field="evalEvery" label="Evaluate every" hint="steps between chart points" error={errors.evalEvery} inputMode="numeric" />
        <TextField field="window" label="Window W" hint="updates per spectral window" error={errors.window} inputMode="numeric" />
        <TextField field="snapshotEvery" label="Snapshot every" hint="steps per update in the window" error={errors.snapshotEvery} inputMode="numeric" />
        <SwitchField field="gapFlow" label="Gap-flow terms" hint="curvature along the edge each window: a few extra passes" error={errors.gapFlow} />
        <LiveCausalFields errors={errors} />
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
        {hasOp(form.preset) && <OpField />}
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
