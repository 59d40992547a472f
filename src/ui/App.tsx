// The lab page: status line on top; on the left the task, its hyperparameters, the run and live controls, sharing,
// exports and saved runs; on the right the live charts. Classroom mode swaps both for the walkthrough and the
// key charts, in large type. Training happens in a worker (src/worker/); this tree only shows its batches and sends
// commands. Each panel has its own error boundary (PanelBoundary): one that fails to draw leaves the rest working.
import { useEffect } from 'react';
import { ChartPanels } from './ChartPanels';
import { ClassroomLayout, ClassroomToggle, useClassroomType } from './Classroom';
import { NoticeBanner } from './NoticeBanner';
import { PanelBoundary } from './PanelBoundary';
import { RunControls } from './RunControls';
import { RunForm } from './RunForm';
import { SavedRuns, ShareAndExport } from './RunFiles';
import { ShortcutHelp, useShortcuts } from './Shortcuts';
import { StatusBar } from './StatusBar';
import { TaskPicker } from './TaskPicker';
import { useWebGpuSupport } from './useWebGpuSupport';
import { WebGpuHelp } from './WebGpuHelp';
import { syncUrlHash, useLab } from './lab';
import type { WebGpuSupport } from './webgpuSupport';

function adapterText(support: WebGpuSupport): string {
  switch (support.kind) {
    case 'checking':
      return 'looking for one…';
    case 'available':
      return support.adapter;
    case 'unavailable':
      return 'none';
  }
}

export function App() {
  const support = useWebGpuSupport();
  const workerSaysUnavailable = useLab((s) => s.status.webGpuUnavailable);
  const workerMessage = useLab((s) => s.status.message);
  const classroom = useLab((s) => s.classroom);
  useEffect(syncUrlHash, []);
  useShortcuts();
  useClassroomType();
  const canTrain = support.kind !== 'unavailable';

  return (
    <div className="lab">
      <header className="topbar">
        <div className="brand">
          <h1>Spectral Edge Lab</h1>
          <p className="tagline">Watch a small transformer grok on your GPU, and take its spectral edge apart.</p>
        </div>
        <StatusBar adapter={adapterText(support)} />
        <ClassroomToggle />
      </header>
      <NoticeBanner />
      {support.kind === 'unavailable' && <WebGpuHelp reason={support.reason} detail={support.detail} />}
      {support.kind !== 'unavailable' && workerSaysUnavailable && <WebGpuHelp reason="no-adapter" detail={workerMessage ?? undefined} />}
      {classroom ? (
        <ClassroomLayout canTrain={canTrain} />
      ) : (
        <div className="layout">
          <aside className="sidebar" aria-label="Run settings and controls">
            <PanelBoundary name="task">
              <TaskPicker />
            </PanelBoundary>
            <PanelBoundary name="run settings">
              <RunForm />
            </PanelBoundary>
            <PanelBoundary name="run controls">
              <RunControls canTrain={canTrain} />
            </PanelBoundary>
            <PanelBoundary name="share and export">
              <ShareAndExport />
            </PanelBoundary>
            <PanelBoundary name="saved runs">
              <SavedRuns />
            </PanelBoundary>
            <PanelBoundary name="keyboard shortcuts">
              <ShortcutHelp />
            </PanelBoundary>
          </aside>
          <main className="panels">
            <ChartPanels />
          </main>
        </div>
      )}
    </div>
  );
}
