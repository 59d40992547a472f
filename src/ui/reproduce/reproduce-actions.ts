// The Reproduce panel's actions: ask the worker for a study's view, run it (progress and each finished unit come
// back through a Comlink callback), cancel it, discard its finished units (kept in the browser between visits), and export what it has: report.md and report.json rendered by the
// same code as `npm run reproduce`, and the figures as SVG.
import * as Comlink from 'comlink';
import { useStore } from 'zustand';
import { createReproduceStore, type ReproduceState } from '../../store/reproduce-store';
import { renderMarkdown } from '../../reproduce/report';
import { api } from '../lab';
import { download, downloadJson } from '../charts/chart-export';
import { errorMessage } from '../../util/error-message';

export const reproduceStore = createReproduceStore();

export function useReproduce<T>(selector: (state: ReproduceState) => T): T {
  return useStore(reproduceStore, selector);
}

/** A file name prefix for the chosen study's exports. */
function baseName(): string {
  const { request } = reproduceStore.getState();
  return `reproduce-${request.study}${request.quick ? '-quick' : ''}${request.abbreviated ? '-abbreviated' : ''}`;
}

export const reproduceActions = {
  async plan(): Promise<void> {
    const { request, planned, fail } = reproduceStore.getState();
    try {
      planned(request, await api().planStudy(request));
    } catch (error) {
      fail(errorMessage(error));
    }
  },

  async run(): Promise<void> {
    const { request, begin, event, settle } = reproduceStore.getState();
    begin();
    try {
      settle({ stop: await api().runStudy(request, Comlink.proxy(event)) });
    } catch (error) {
      settle({ error: errorMessage(error) });
    }
  },

  async discard(): Promise<void> {
    const { request, discarded, fail } = reproduceStore.getState();
    try {
      discarded(request, await api().discardStudy(request));
    } catch (error) {
      fail(errorMessage(error));
    }
  },

  async cancel(): Promise<void> {
    reproduceStore.getState().cancel();
    await api().cancelStudy();
  },

  exportMarkdown(): void {
    const { view } = reproduceStore.getState();
    if (view) download(new Blob([renderMarkdown(view.report)], { type: 'text/markdown' }), `${baseName()}-report.md`);
  },

  exportJson(): void {
    const { view } = reproduceStore.getState();
    if (view) downloadJson(view.report, `${baseName()}-report.json`);
  },

  exportFigure(name: string): void {
    const svg = reproduceStore.getState().view?.figures.find(([n]) => n === name)?.[1];
    if (svg) download(new Blob([svg], { type: 'image/svg+xml' }), `${baseName()}-${name}`);
  },
};
