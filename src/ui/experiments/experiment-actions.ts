// The experiment panels' actions: send a request to the training worker (its results come back in a batch, into
// the lab store's `analyses`), export an analysis, and report a failure as a notice on the page.
import { useStore } from 'zustand';
import { createExperimentsStore, type ExperimentsState } from '../../store/experiments-store';
import { plannedExperiments } from '../../analysis/experiments';
import type { ExperimentName } from '../../formats/experiments';
import type { AnalysisFile } from '../../formats/analysis-file';
import { downloadJson } from '../charts/chart-export';
import { api, labStore } from '../lab';
import { analysisFileBase } from './experiment-data';
import { errorMessage } from '../../util/error-message';

export const experimentsStore = createExperimentsStore();

export function useExperiments<T>(selector: (state: ExperimentsState) => T): T {
  return useStore(experimentsStore, selector);
}

export function reportExperimentError(text: string): void {
  labStore.getState().setNotice({ kind: 'error', text });
}

/**
 * Runs `experiments` on the paused or finished run's model, as it is or (`at` 'grok') as it was at its grok step;
 * `interventionSteps` for the weight-decay intervention.
 */
export async function runExperiments(experiments: ExperimentName[], interventionSteps: number, at: 'current' | 'grok' = 'current'): Promise<void> {
  const { begin, settle } = experimentsStore.getState();
  const { status } = labStore.getState();
  begin({ planned: plannedExperiments(experiments), step: at === 'grok' && status.grokCheckpointStep !== null ? status.grokCheckpointStep : status.step });
  try {
    await api().runExperiment({ experiments, at, ...(experiments.includes('wd-intervention') && { interventionSteps }) });
    settle(null);
  } catch (error) {
    if (experimentsStore.getState().cancelling) {
      // A cancelled request ends with the worker's ExperimentCancelledError: not a failure.
      settle(null);
      labStore.getState().setNotice({ kind: 'info', text: 'Experiments cancelled: the model is as it was, and nothing of that request was kept.' });
      return;
    }
    console.error(error);
    settle(errorMessage(error));
  }
}

/** Asks the worker to stop the running experiments at their next experiment or branch step. */
export async function cancelExperiments(): Promise<void> {
  experimentsStore.getState().cancel();
  try {
    await api().cancelExperiment();
  } catch (error) {
    reportExperimentError(`Could not cancel the experiments: ${errorMessage(error)}`);
  }
}

/** Offers the analysis as the file `npm run analyze --out` writes. */
export const exportAnalysis = (file: AnalysisFile) => downloadJson(file, `${analysisFileBase(file)}.analysis.json`);
