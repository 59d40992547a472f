// Keyboard shortcuts, one table used both to handle keys and to document them on the page. Keys typed into a
// field, a select or a slider stay with that control.
import { useEffect } from 'react';
import { actions, labStore } from './lab';
import { nudgeWeightDecay } from './RunControls';

interface Shortcut {
  keys: string[];
  label: string;
  run(): void;
  /** When the shortcut applies (always, without it); otherwise the key does what it normally does. */
  active?(): boolean;
}

const inClassroom = () => labStore.getState().classroom;

const nudge = (delta: number) => {
  const optim = labStore.getState().status.optim;
  if (optim) void actions.setHyper({ weightDecay: nudgeWeightDecay(optim.weightDecay, delta) });
};

export const SHORTCUTS: Shortcut[] = [
  { keys: [' '], label: 'Start, pause or resume', run: () => void actions.toggle() },
  { keys: ['n'], label: 'Start a new run with the form’s settings', run: () => void actions.start() },
  { keys: ['.'], label: 'One step (while paused)', run: () => void actions.step(1) },
  { keys: ['>'], label: 'Step to the next evaluation (while paused)', run: () => void actions.stepToEvaluation() },
  { keys: ['r'], label: 'Reset: end the run, clear the charts', run: () => void actions.reset() },
  { keys: ['['], label: 'Weight decay −0.1 (live)', run: () => nudge(-0.1) },
  { keys: [']'], label: 'Weight decay +0.1 (live)', run: () => nudge(0.1) },
  { keys: ['e'], label: 'Export the run as JSON', run: () => void actions.exportRun() },
  { keys: ['c'], label: 'Classroom mode on or off', run: () => actions.toggleClassroom() },
  { keys: ['ArrowRight', 'PageDown'], label: 'Walkthrough: next step (classroom mode)', run: () => actions.moveWalkthrough(1), active: inClassroom },
  { keys: ['ArrowLeft', 'PageUp'], label: 'Walkthrough: previous step (classroom mode)', run: () => actions.moveWalkthrough(-1), active: inClassroom },
];

const KEY_NAMES: Record<string, string> = { ' ': 'Space', ArrowRight: '→', ArrowLeft: '←', PageDown: 'PgDn', PageUp: 'PgUp' };
const keyName = (key: string) => KEY_NAMES[key] ?? key;
/** Arrow keys move between the radio buttons of a group: they stay with a focused radio. */
const arrowOwner = (e: KeyboardEvent) => e.key.startsWith('Arrow') && e.target instanceof HTMLInputElement && e.target.type === 'radio';

function ownsKeys(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag === 'INPUT') return (target as HTMLInputElement).type !== 'checkbox' && (target as HTMLInputElement).type !== 'radio';
  return false;
}

/** Space activates a focused button, link or summary itself. */
const activatesOnSpace = (target: EventTarget | null) =>
  (target instanceof HTMLElement && ['BUTTON', 'SUMMARY', 'A'].includes(target.tagName)) ||
  (target instanceof HTMLInputElement && (target.type === 'checkbox' || target.type === 'radio'));

export function useShortcuts(): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || ownsKeys(e.target)) return;
      if (e.key === ' ' && activatesOnSpace(e.target)) return;
      if (arrowOwner(e)) return;
      const shortcut = SHORTCUTS.find((s) => (s.keys.includes(e.key) || s.keys.includes(e.key.toLowerCase())) && (s.active?.() ?? true));
      if (!shortcut) return;
      e.preventDefault();
      shortcut.run();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}

export function ShortcutHelp() {
  return (
    <details className="section shortcuts">
      <summary>Keyboard shortcuts</summary>
      <dl>
        {SHORTCUTS.map((s) => (
          <div key={s.label} className="shortcut">
            <dt>
              {s.keys.map((k) => (
                <kbd key={k}>{keyName(k)}</kbd>
              ))}
            </dt>
            <dd>{s.label}</dd>
          </div>
        ))}
      </dl>
      <p className="muted">Keys typed into a field stay with the field. Tab moves through the controls in order; every chart’s export menu is reachable by keyboard.</p>
    </details>
  );
}
