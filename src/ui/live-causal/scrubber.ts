// The curve-at-step scrubber as data (pure, tested without a page): which probe it shows (the one the user
// scrubbed back to, else the latest), what it says about it, and its track's ticks: each marker (a hyperparameter
// change, the grok step, a key moment) at the first probe at or after its step.
import type { Marker } from '../charts/plot-model';

export interface ScrubberState {
  /** The probe shown (-1: none yet). */
  index: number;
  step: number | null;
  /** Where the scrubber stands, in words. */
  text: string;
  ticks: { index: number; label: string }[];
}

/** The markers named in the text: the latest few before the probe shown. */
const MARKERS_NAMED = 2;

export function scrubberState(steps: readonly number[], pinned: number | null, markers: readonly Marker[]): ScrubberState {
  const count = steps.length;
  const ticks = markers.flatMap((m) => {
    const index = steps.findIndex((s) => s >= m.step);
    return index >= 0 ? [{ index, label: m.label }] : [];
  });
  if (count === 0) return { index: -1, step: null, text: 'No probe yet.', ticks };
  const index = pinned !== null && pinned >= 0 && pinned < count ? pinned : count - 1;
  const step = steps[index];
  const where = `Step ${step.toLocaleString('en')}, probe ${index + 1} of ${count}${index === count - 1 ? ' (the latest)' : ''}`;
  const before = markers.filter((m) => m.step <= step).sort((a, b) => a.step - b.step).slice(-MARKERS_NAMED).map((m) => m.label);
  return { index, step, text: before.length > 0 ? `${where}; after ${before.join(', ')}.` : `${where}.`, ticks };
}
