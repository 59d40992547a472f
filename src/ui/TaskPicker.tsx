// Picking the task: one radio per preset with a few words each, and the chosen one described in plain language.
import { useId } from 'react';
import { presetInfos } from './preset-info';
import { labStore, useLab } from './lab';

const INFOS = presetInfos();

export function TaskPicker() {
  const preset = useLab((s) => s.form.preset);
  const descriptionId = useId();
  const chosen = INFOS.find((p) => p.name === preset);
  return (
    <fieldset className="section task-picker">
      <legend>Task</legend>
      <div className="preset-list" role="radiogroup" aria-describedby={descriptionId}>
        {INFOS.map((p) => (
          <label key={p.name} className={p.name === preset ? 'preset chosen' : 'preset'}>
            <input
              type="radio"
              name="preset"
              value={p.name}
              checked={p.name === preset}
              onChange={() => labStore.getState().setPreset(p.name)}
              data-testid={`preset-${p.name}`}
            />
            <span className="preset-name">{p.name}</span>
            <span className="preset-short" title={p.short}>
              {p.short}
            </span>
          </label>
        ))}
      </div>
      {chosen && (
        <p className="preset-description" id={descriptionId}>
          {chosen.description} <span className="muted">({chosen.params.toLocaleString('en')} parameters)</span>
        </p>
      )}
    </fieldset>
  );
}
