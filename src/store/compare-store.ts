// Which saved runs the page compares: the ticks in the saved-run list, and the runs on show in the compare panel
// (their run files, read from the run store when Compare is pressed).
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { RunFile } from '../formats/run-file';

export interface ComparedRun {
  /** The saved run's id. */
  id: string;
  file: RunFile;
}

export interface CompareState {
  /** Ids ticked for comparison, in the order they were ticked. */
  selected: string[];
  /** The runs on show (null: no comparison open). */
  runs: ComparedRun[] | null;
  toggle(id: string): void;
  show(runs: ComparedRun[] | null): void;
  /** Forgets a run (deleted): unticked, and taken out of the comparison on show. */
  forget(id: string): void;
}

export function createCompareStore(): StoreApi<CompareState> {
  return createStore<CompareState>()((set) => ({
    selected: [],
    runs: null,
    toggle: (id) => set((s) => ({ selected: s.selected.includes(id) ? s.selected.filter((x) => x !== id) : [...s.selected, id] })),
    show: (runs) => set({ runs }),
    forget: (id) =>
      set((s) => {
        const runs = s.runs?.filter((r) => r.id !== id) ?? null;
        return { selected: s.selected.filter((x) => x !== id), runs: runs && runs.length >= 2 ? runs : null };
      }),
  }));
}
