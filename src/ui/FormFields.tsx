// The run form's three kinds of field, bound to the lab store's form: a text field (a number as typed, checked by
// the form's validation), a choice from a list, and an on/off switch. Each shows its hint under it, or its error in
// place of the hint.
import { useId } from 'react';
import type { FormField } from '../store/run-form';
import { labStore, useLab } from './lab';

interface TextFieldProps {
  field: FormField;
  label: string;
  hint: string;
  error?: string;
  inputMode?: 'numeric' | 'decimal';
  /** What a blank field means (the engine's default), shown in the field while it is blank and after the hint. */
  fallback?: string;
}

export function TextField({ field, label, hint, error, inputMode = 'decimal', fallback }: TextFieldProps) {
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
        {error ?? (fallback === undefined ? hint : `${hint}; blank: ${fallback}`)}
      </span>
    </div>
  );
}

interface SwitchFieldProps {
  /** A form field whose value is 'on' or 'off'. */
  field: FormField;
  label: string;
  hint: string;
  error?: string;
}

export function SwitchField({ field, label, hint, error }: SwitchFieldProps) {
  const id = useId();
  const on = useLab((s) => s.form.values[field] === 'on');
  return (
    <div className={error ? 'field checkbox-field invalid' : 'field checkbox-field'}>
      <label htmlFor={id}>
        <input
          id={id}
          type="checkbox"
          checked={on}
          onChange={(e) => labStore.getState().setField(field, e.target.checked ? 'on' : 'off')}
          aria-describedby={`${id}-hint`}
          data-testid={`field-${field}`}
        />
        {label}
      </label>
      <span id={`${id}-hint`} className={error ? 'field-error' : 'field-hint'}>
        {error ?? hint}
      </span>
    </div>
  );
}

interface SelectFieldProps {
  field: FormField;
  label: string;
  /** Each choice's value and label, in order. */
  options: readonly (readonly [value: string, label: string])[];
  hint: string;
  error?: string;
}

export function SelectField({ field, label, options, hint, error }: SelectFieldProps) {
  const id = useId();
  const value = useLab((s) => s.form.values[field]);
  return (
    <div className={error ? 'field invalid' : 'field'}>
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => labStore.getState().setField(field, e.target.value)} aria-describedby={`${id}-hint`} data-testid={`field-${field}`}>
        {options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
      <span id={`${id}-hint`} className={error ? 'field-error' : 'field-hint'}>
        {error ?? hint}
      </span>
    </div>
  );
}
