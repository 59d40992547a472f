// The lab page. On top, always in view, the run bar: the title, the run's buttons, its status and the classroom
// toggle. Below it, on the left, the task, its settings (the key ones, the rest under "More settings"), the live
// controls, sharing, exports and saved runs; on the right the primer and the live charts. Classroom mode swaps
// both for the walkthrough and the key charts, in large type. Training happens in a worker (src/worker/); this
// tree only shows its batches and sends commands. Each panel has its own error boundary (PanelBoundary): one that
// fails to draw leaves the rest working.
import { useEffect, useRef } from 'react';
import { ChartPanels } from './ChartPanels';
import { ClassroomLayout, ClassroomToggle, useClassroomType } from './Classroom';
import { NoticeBanner } from './NoticeBanner';
import { PanelBoundary } from './PanelBoundary';
import { Primer } from './Primer';
import { ReproducePanel } from './reproduce/ReproducePanel';
import { LiveControls, RunButtons } from './RunControls';
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

/** The id of the charts' <main>, where the skip link leads. */
export const CHARTS_ID = 'charts';

/**
 * Skips the run bar and the settings. It moves focus itself: following `#charts` would change the URL hash, which
 * holds the run's configuration.
 */
function SkipLink() {
  return (
    <a
      className="skip-link"
      href={`#${CHARTS_ID}`}
      onClick={(e) => {
        e.preventDefault();
        const main = document.getElementById(CHARTS_ID);
        main?.focus();
        main?.scrollIntoView({ block: 'start' });
      }}
    >
      Skip to the charts
    </a>
  );
}

/** Keeps --bar-height equal to the run bar's height, so the sticky sidebar sits just under it. */
function useBarHeight() {
  const bar = useRef<HTMLElement>(null);
  useEffect(() => {
    const element = bar.current;
    if (!element) return;
    const observer = new ResizeObserver(() => document.documentElement.style.setProperty('--bar-height', `${element.offsetHeight}px`));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return bar;
}

export function App() {
  const support = useWebGpuSupport();
  const workerSaysUnavailable = useLab((s) => s.status.webGpuUnavailable);
  const workerMessage = useLab((s) => s.status.message);
  const classroom = useLab((s) => s.classroom);
  const bar = useBarHeight();
  useEffect(syncUrlHash, []);
  useShortcuts();
  useClassroomType();
  const canTrain = support.kind !== 'unavailable';

  return (
    <div className="lab">
      <SkipLink />
      <header className="topbar" ref={bar}>
        <h1 title="Watch a small transformer grok on your GPU, and take its spectral edge apart.">Spectral Edge Lab</h1>
        <PanelBoundary name="run buttons">
          <RunButtons canTrain={canTrain} />
        </PanelBoundary>
        <StatusBar adapter={adapterText(support)} />
        <ClassroomToggle />
      </header>
      <NoticeBanner />
      {support.kind === 'unavailable' && <WebGpuHelp reason={support.reason} detail={support.detail} />}
      {support.kind !== 'unavailable' && workerSaysUnavailable && <WebGpuHelp reason="no-adapter" detail={workerMessage ?? undefined} />}
      {classroom ? (
        <ClassroomLayout canTrain={canTrain} chartsId={CHARTS_ID} />
      ) : (
        <div className="layout">
          <aside className="sidebar" aria-label="Run settings and controls">
            <PanelBoundary name="task">
              <TaskPicker />
            </PanelBoundary>
            <PanelBoundary name="run settings">
              <RunForm />
            </PanelBoundary>
            <PanelBoundary name="live changes">
              <LiveControls />
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
          <main className="panels" id={CHARTS_ID} tabIndex={-1}>
            <PanelBoundary name="primer">
              <Primer />
            </PanelBoundary>
            <ChartPanels />
            <PanelBoundary name="reproduce the papers">
              <ReproducePanel />
            </PanelBoundary>
          </main>
        </div>
      )}
      {/* Not on the projector: classroom mode is one screen of the lesson. */}
      {!classroom && (
        <footer className="lab-footer">
          <a href="./bench.html">Benchmark your GPU</a>: how fast each preset trains here, with results to copy and share.
        </footer>
      )}
    </div>
  );
}
