// The run form's "Live causal probes" switch and, when it is on, the probes' options: how often, on how many test
// sequences, how many random pairs, and ε. A blank option is the engine's default for this preset and snapshot
// cadence, shown in the field itself; each option is checked as it is typed, with its own one-line message.
import { causalDefaults, presetTestSequences, type FormErrors } from '../../store/run-form';
import { PRESETS } from '../../train/presets';
import { useLab } from '../lab';
import { SwitchField, TextField } from '../FormFields';

export function LiveCausalFields({ errors }: { errors: FormErrors }) {
  const preset = useLab((s) => s.form.preset);
  const on = useLab((s) => s.form.values.causal === 'on');
  const snapshotText = useLab((s) => s.form.values.snapshotEvery);
  const snapshotEvery = Number(snapshotText);
  const snapshot = Number.isInteger(snapshotEvery) && snapshotEvery > 0 ? snapshotEvery : PRESETS[preset].spectral.snapshotEvery;
  const defaults = on ? causalDefaults(preset, snapshot) : null;
  return (
    <>
      <SwitchField
        field="causal"
        label="Live causal probes"
        hint="ablate and perturb the edge as it trains (the Causal, live charts)"
        error={errors.causal}
      />
      {defaults && (
        <>
          <TextField field="causalEvery" label="Probe every" fallback={String(defaults.every)} hint={`steps, a multiple of ${snapshot}`} error={errors.causalEvery} inputMode="numeric" />
          <TextField
            field="causalSequences"
            label="Probe subset"
            fallback={String(defaults.sequences)}
            hint={`test sequences, at most ${presetTestSequences(preset).toLocaleString('en')}`}
            error={errors.causalSequences}
            inputMode="numeric"
          />
          <TextField field="causalRandom" label="Random pairs" fallback={String(defaults.randomPairs)} hint="controls per probe, 1 to 64" error={errors.causalRandom} inputMode="numeric" />
          <TextField field="causalEps" label="ε / ‖θ_attn‖" fallback={String(defaults.epsRelative)} hint="perturbation size, in (0, 1]" error={errors.causalEps} inputMode="decimal" />
        </>
      )}
    </>
  );
}
