// The run form's "Live causal probes" switch and, when it is on, the probes' options: how often, on how many test
// sequences, how many random pairs, and ε. A blank option is the engine's default for this preset and snapshot
// cadence, shown in the field itself; each option is checked as it is typed, with its own one-line message.
import { useId } from 'react';
import { causalDefaults, presetTestSequences, type FormErrors, type FormField } from '../../store/run-form';
import { PRESETS } from '../../train/presets';
import { labStore, useLab } from '../lab';

interface OptionProps {
  field: FormField;
  label: string;
  /** The engine's default (shown while the field is blank). */
  fallback: string;
  hint: string;
  error?: string;
  inputMode: 'numeric' | 'decimal';
}

function OptionField({ field, label, fallback, hint, error, inputMode }: OptionProps) {
  const id = useId();
  const value = useLab((s) => s.form.values[field]);
  return (
    <div className={error ? 'field invalid' : 'field'}>
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={field}
        type="text"
        inputMode={inputMode}
        autoComplete="off"
        spellCheck={false}
        value={value}
        placeholder={fallback}
        aria-invalid={error ? true : undefined}
        aria-describedby={`${id}-hint`}
        onChange={(e) => labStore.getState().setField(field, e.target.value)}
        data-testid={`field-${field}`}
      />
      <span id={`${id}-hint`} className={error ? 'field-error' : 'field-hint'} role={error ? 'alert' : undefined}>
        {error ?? `${hint}; blank: ${fallback}`}
      </span>
    </div>
  );
}

export function LiveCausalFields({ errors }: { errors: FormErrors }) {
  const id = useId();
  const preset = useLab((s) => s.form.preset);
  const on = useLab((s) => s.form.values.causal === 'on');
  const snapshotText = useLab((s) => s.form.values.snapshotEvery);
  const snapshotEvery = Number(snapshotText);
  const snapshot = Number.isInteger(snapshotEvery) && snapshotEvery > 0 ? snapshotEvery : PRESETS[preset].spectral.snapshotEvery;
  const defaults = on ? causalDefaults(preset, snapshot) : null;
  return (
    <>
      <div className={errors.causal ? 'field checkbox-field invalid' : 'field checkbox-field'}>
        <label htmlFor={id}>
          <input
            id={id}
            type="checkbox"
            checked={on}
            onChange={(e) => labStore.getState().setField('causal', e.target.checked ? 'on' : 'off')}
            aria-describedby={`${id}-hint`}
            data-testid="field-causal"
          />
          Live causal probes
        </label>
        <span id={`${id}-hint`} className={errors.causal ? 'field-error' : 'field-hint'}>
          {errors.causal ?? 'ablate and perturb the edge as it trains (the Causal, live charts)'}
        </span>
      </div>
      {defaults && (
        <>
          <OptionField field="causalEvery" label="Probe every" fallback={String(defaults.every)} hint={`steps, a multiple of ${snapshot}`} error={errors.causalEvery} inputMode="numeric" />
          <OptionField
            field="causalSequences"
            label="Probe subset"
            fallback={String(defaults.sequences)}
            hint={`test sequences, at most ${presetTestSequences(preset).toLocaleString('en')}`}
            error={errors.causalSequences}
            inputMode="numeric"
          />
          <OptionField field="causalRandom" label="Random pairs" fallback={String(defaults.randomPairs)} hint="controls per probe, 1 to 64" error={errors.causalRandom} inputMode="numeric" />
          <OptionField field="causalEps" label="ε / ‖θ_attn‖" fallback={String(defaults.epsRelative)} hint="perturbation size, in (0, 1]" error={errors.causalEps} inputMode="decimal" />
        </>
      )}
    </>
  );
}
