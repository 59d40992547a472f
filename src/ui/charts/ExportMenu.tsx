// A figure's Export menu: one button per format, closed again once a format is chosen (so it can be reopened for
// the next). Used by the time-series charts and the experiment figures.
import { useRef } from 'react';

export interface ExportChoice<F extends string> {
  format: F;
  label: string;
  /** A few words on what the file holds. */
  what: string;
  disabled?: boolean;
}

export function ExportMenu<F extends string>({ title, choices, onChoose }: { title: string; choices: readonly ExportChoice<F>[]; onChoose: (format: F) => void }) {
  const ref = useRef<HTMLDetailsElement>(null);
  const choose = (format: F) => {
    if (ref.current) ref.current.open = false;
    onChoose(format);
  };
  return (
    <details className="menu" ref={ref}>
      <summary aria-label={`Export ${title}`}>Export</summary>
      <div className="menu-items" role="group" aria-label={`Export ${title} as`}>
        {choices.map(({ format, label, what, disabled }) => (
          <button key={format} type="button" disabled={disabled} onClick={() => choose(format)} aria-label={`Export ${title} as ${label}`}>
            {label} <span className="muted">{what}</span>
          </button>
        ))}
      </div>
    </details>
  );
}
