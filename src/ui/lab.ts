// The page's single lab: its series tables, its store, the training worker (started on first use), the saved-run
// database, and the actions the panels and keyboard shortcuts call. Every action reports failure as a notice on
// the page (never a silent no-op), and every command's answer comes back through the worker's batches.
import { useStore } from 'zustand';
import { createLabStore, createTables, type LabState } from '../store/lab-store';
import { RunDb } from '../worker/run-db';
import { validateForm, type FormField } from '../store/run-form';
import { decodeHash, encodeHash } from '../store/url-hash';
import { connectLab, type LabClient } from '../worker/client';
import type { HyperParams } from '../formats/optim';
import type { RunConfig, RunFile } from '../formats/run-file';
import { download } from './charts/chart-export';
import { CLASSROOM_RUN, WALKTHROUGH_STEPS } from './walkthrough';
import { errorMessage } from '../util/error-message';

export const tables = createTables();
export const labStore = createLabStore(tables);
export const runDb = new RunDb();

export function useLab<T>(selector: (state: LabState) => T): T {
  return useStore(labStore, selector);
}

let client: LabClient | null = null;
/** The training worker's API (started on first use); the experiment panels send their command through it too. */
export function api(): LabClient['api'] {
  client ??= connectLab((batch) => labStore.getState().applyBatch(batch));
  return client.api;
}

/** Runs an action; a failure becomes an error notice (and the promise resolves to undefined). */
async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    const result = await fn();
    return result;
  } catch (error) {
    console.error(error);
    labStore.getState().setNotice({ kind: 'error', text: `${what}: ${errorMessage(error)}` });
    return undefined;
  }
}

/** The preset the classroom walkthrough narrates (its run: CLASSROOM_RUN). */
export const WALKTHROUGH_PRESET = CLASSROOM_RUN.preset;

/** The recorded demo (a run file the real engine wrote, in public/): the classroom run, played back without a GPU. */
export const DEMO_RUN_URL = `${import.meta.env.BASE_URL}demo/classroom.run.json`;

const info = (text: string) => labStore.getState().setNotice({ kind: 'info', text });

/** A file name for a run's exports: preset, seed and step. */
export function fileBase(config: RunConfig | null, step: number): string {
  return config ? `${config.preset}-seed${config.seed}-step${step}` : 'spectral-edge-lab';
}

export const actions = {
  async start(): Promise<void> {
    const { form, schedule, setNotice } = labStore.getState();
    const result = validateForm(form);
    if (!result.ok) {
      setNotice({ kind: 'error', text: `Cannot start: ${Object.entries(result.errors).map(([f, m]) => `${f} ${m}`).join('; ')}` });
      return;
    }
    setNotice(null);
    await attempt('Could not start the run', () => api().start({ ...result.request, schedule }));
    void actions.refreshSavedRuns();
  },
  pause: () => attempt('Could not pause', () => api().pause()).then(() => actions.refreshSavedRuns()),
  resume: () => attempt('Could not resume', () => api().resume()),
  step: (n: number) => attempt('Could not step', () => api().step(n)),
  reset: () => attempt('Could not reset', () => api().reset()).then(() => actions.refreshSavedRuns()),
  setHyper: (changes: Partial<HyperParams>) => attempt('Could not change the hyperparameters', () => api().setHyper(changes)),

  /** Toggles training: starts a run when there is none to continue. */
  async toggle(): Promise<void> {
    const { phase } = labStore.getState().status;
    if (phase === 'running') await actions.pause();
    else if (phase === 'paused') await actions.resume();
    else if (phase !== 'preparing' && phase !== 'recovering') await actions.start();
  },

  /** Steps to the next evaluation (so the charts gain a point). */
  async stepToEvaluation(): Promise<void> {
    const { status, config } = labStore.getState();
    if (!config) return;
    await actions.step(config.evalEvery - (status.step % config.evalEvery));
  },

  async exportRun(): Promise<RunFile | undefined> {
    const file = await attempt('Could not export the run', () => api().exportRun());
    if (file) download(new Blob([JSON.stringify(file)], { type: 'application/json' }), `${fileBase(file.config, file.summary.steps)}.run.json`);
    return file;
  },

  /** Shows a run file chosen by the user (view only: a file carries no checkpoint). */
  async importRunFile(file: File): Promise<void> {
    const text = await file.text();
    const status = await attempt(`Could not open ${file.name}`, () => api().loadRun({ runFile: text }));
    if (status) info(`Opened ${file.name}: ${status.step} steps. Press Start to replay it with the same settings and changes.`);
  },

  async refreshSavedRuns(): Promise<void> {
    const list = await attempt('Could not read the saved runs', () => runDb.list());
    if (list) labStore.getState().setSavedRuns(list);
  },

  /**
   * Reopens a saved run: its charts, and (with its checkpoint and a GPU) its model: a finished run takes experiments
   * (at its end, or at its grok step when that checkpoint was kept), an unfinished one also continues training from
   * where it was saved. Without a usable GPU the run is still shown, for viewing and export.
   */
  async openSavedRun(id: string): Promise<void> {
    const saved = await attempt('Could not read the saved run', () => runDb.get(id));
    if (!saved) {
      void actions.refreshSavedRuns();
      return;
    }
    const { summary, runFile, checkpoint, grokCheckpoint } = saved;
    const view = { runFile, runId: id, schedule: summary.schedule };
    if (checkpoint) {
      try {
        const status = await api().loadRun({ ...view, checkpoint, ...(grokCheckpoint && { grokCheckpoint }) });
        const grok = status.grokCheckpointStep === null ? '' : ` or at its grok (step ${status.grokCheckpointStep.toLocaleString('en')})`;
        info(
          status.phase === 'finished'
            ? `Reopened “${summary.title}” (step ${status.step}): run experiments on its model at the end${grok}.`
            : `Reopened “${summary.title}” at step ${status.step}: press Resume to continue training, or run experiments on its model${grok}.`,
        );
        return;
      } catch (error) {
        const status = await attempt(`Could not open “${summary.title}”`, () => api().loadRun(view));
        if (status) info(`Opened “${summary.title}” for viewing only: training cannot continue here (${errorMessage(error)}).`);
        return;
      }
    }
    const status = await attempt(`Could not open “${summary.title}”`, () => api().loadRun(view));
    if (status) info(`Reopened “${summary.title}” (step ${status.step}).`);
  },

  /**
   * The classroom walkthrough's run (CLASSROOM_RUN), started from step 0: keeping the form's settings when it is
   * already on that preset, so a link's shorter run or other seed applies; `changes` on top (e.g. weight decay 0).
   */
  async startWalkthroughRun(changes: Partial<Record<FormField, string>> = {}): Promise<void> {
    const state = labStore.getState();
    if (state.form.preset !== WALKTHROUGH_PRESET) {
      state.setPreset(WALKTHROUGH_PRESET);
      for (const [field, value] of Object.entries(CLASSROOM_RUN.values)) state.setField(field as FormField, value);
    }
    for (const [field, value] of Object.entries(changes)) state.setField(field as FormField, value);
    await actions.start();
  },

  /** Plays the recorded demo back through the charts and the walkthrough (no GPU needed). */
  async playDemo(): Promise<void> {
    const status = await attempt('Could not play the recorded demo', async () => {
      const response = await fetch(DEMO_RUN_URL);
      if (!response.ok) throw new Error(`${DEMO_RUN_URL}: HTTP ${response.status}`);
      const runFile = await response.text();
      const { config } = JSON.parse(runFile) as { config: RunConfig };
      return api().playRun({ runFile, title: `the classroom run (${config.preset}, seed ${config.seed}, ${config.steps.toLocaleString('en')} steps)` });
    });
    if (status) labStore.getState().setNotice(null);
  },

  skipPlayback: () => attempt('Could not skip to the end of the recording', () => api().skipPlayback()),

  toggleClassroom(): void {
    const { classroom, setClassroom } = labStore.getState();
    setClassroom(!classroom);
  },

  /** Moves the walkthrough by `delta` steps (within its steps). */
  moveWalkthrough(delta: number): void {
    const { walkthroughStep, setWalkthroughStep } = labStore.getState();
    setWalkthroughStep(Math.min(WALKTHROUGH_STEPS.length - 1, Math.max(0, walkthroughStep + delta)));
  },

  async deleteSavedRun(id: string): Promise<void> {
    await attempt('Could not delete the saved run', () => runDb.delete(id));
    await actions.refreshSavedRuns();
  },
};

/** Keeps the URL hash equal to the form, schedule and classroom mode, and follows links pasted into the address bar. */
export function syncUrlHash(): () => void {
  const read = () => {
    const { form, schedule, classroom, problems } = decodeHash(window.location.hash);
    // Classroom mode first: switching it moves the form's default probes, and the link's form is what counts.
    labStore.getState().setClassroom(classroom);
    labStore.getState().setForm(form, schedule);
    if (problems.length > 0) labStore.getState().setNotice({ kind: 'error', text: `This link could not be read completely: ${problems.join('; ')}` });
    else if (schedule.length > 0) info(`This link replays ${schedule.length} hyperparameter change${schedule.length === 1 ? '' : 's'}: press Start.`);
  };
  if (window.location.hash) read();
  const write = (state: LabState) => {
    const hash = encodeHash({ form: state.form, schedule: state.schedule, classroom: state.classroom });
    if (hash !== window.location.hash) history.replaceState(null, '', hash);
  };
  write(labStore.getState());
  const unsubscribe = labStore.subscribe((state, previous) => {
    if (state.form !== previous.form || state.schedule !== previous.schedule || state.classroom !== previous.classroom) write(state);
  });
  window.addEventListener('hashchange', read);
  return () => {
    unsubscribe();
    window.removeEventListener('hashchange', read);
  };
}
