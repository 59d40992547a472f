// Classroom mode: the toggle (top bar, C, classroom=on in the link), and the reduced layout for a projector: the
// walkthrough beside the key charts (loss, accuracy, g23, v1's gradient energy fraction, the live ablation of the
// edge), drawn larger, with the run's key moments marked on every one of them as they happen.
import { useEffect, useMemo } from 'react';
import { ChartGrid } from './ChartPanels';
import { PanelBoundary } from './PanelBoundary';
import { Primer } from './Primer';
import { ShortcutHelp } from './Shortcuts';
import { Walkthrough } from './Walkthrough';
import { classroomCharts, classroomMarkers } from './lab-charts';
import { actions, useLab } from './lab';

/** How much larger the classroom charts draw their text, lines and margins. */
export const CLASSROOM_CHART_ZOOM = 1.5;

/** Large type everywhere (the root font size): a class on <html>, following the store. */
export function useClassroomType(): void {
  const classroom = useLab((s) => s.classroom);
  useEffect(() => {
    document.documentElement.classList.toggle('classroom', classroom);
  }, [classroom]);
}

export function ClassroomToggle() {
  const classroom = useLab((s) => s.classroom);
  return (
    <button type="button" className="classroom-toggle" aria-pressed={classroom} onClick={actions.toggleClassroom} data-testid="classroom-toggle" title="Classroom mode: large type, key charts, a guided walkthrough (C)">
      Classroom
    </button>
  );
}

function ClassroomCharts() {
  const config = useLab((s) => s.config);
  const events = useLab((s) => s.events);
  const moments = useLab((s) => s.moments);
  const charts = useMemo(() => classroomCharts(config), [config]);
  const markers = useMemo(() => classroomMarkers(events, moments), [events, moments]);
  return (
    <section className="classroom-charts" aria-label="Key charts">
      <ChartGrid charts={charts} markers={markers} zoom={CLASSROOM_CHART_ZOOM} className="chart-grid classroom-grid" />
    </section>
  );
}

/** `chartsId`: the id of the charts' <main>, where the skip link leads. */
export function ClassroomLayout({ canTrain, chartsId }: { canTrain: boolean; chartsId: string }) {
  return (
    <div className="classroom-layout">
      <aside className="classroom-side" aria-label="Walkthrough">
        <PanelBoundary name="walkthrough">
          <Walkthrough canTrain={canTrain} />
        </PanelBoundary>
        <PanelBoundary name="primer">
          <Primer />
        </PanelBoundary>
        <PanelBoundary name="keyboard shortcuts">
          <ShortcutHelp />
        </PanelBoundary>
      </aside>
      <main className="panels" id={chartsId} tabIndex={-1}>
        <PanelBoundary name="key charts">
          <ClassroomCharts />
        </PanelBoundary>
      </main>
    </div>
  );
}
