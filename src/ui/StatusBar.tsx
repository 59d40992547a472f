// The run's status line, straight from the worker: phase, progress, speed, the engine's current learning rate and
// weight decay (what the next step uses), the grok step and the adapter.
import { grokStep } from '../train/metrics';
import type { RunPhase } from '../formats/worker';
import { useLab } from './lab';

const PHASE_TEXT: Record<RunPhase, string> = {
  idle: 'No run',
  preparing: 'Preparing the GPU…',
  running: 'Training',
  paused: 'Paused',
  finished: 'Finished',
  viewing: 'Viewing a saved run',
  playing: 'Playing a recording',
  recovering: 'Recovering from a GPU loss…',
  failed: 'Failed',
};

const formatRate = (v: number) => Number(v.toPrecision(4)).toString();

export function StatusBar({ adapter }: { adapter: string }) {
  const status = useLab((s) => s.status);
  const events = useLab((s) => s.events);
  const grok = grokStep(events);
  const progress = status.totalSteps > 0 ? status.step / status.totalSteps : 0;
  // How a finished run ended, when it is news (not when it simply ran its steps).
  const stopped = status.phase === 'finished' && status.stopReason && status.stopReason !== 'completed' ? ` (${status.stopReason})` : '';
  const phase = status.recording && status.phase === 'viewing' ? 'Viewing a recording' : `${PHASE_TEXT[status.phase]}${stopped}`;
  return (
    <div className="status-bar" role="status" aria-live="polite" aria-atomic="false">
      <span className={`phase phase-${status.phase}`} data-testid="run-phase" data-phase={status.phase} title={phase}>
        {phase}
      </span>
      <span className="stat">
        <span className="stat-label">step</span>
        <strong data-testid="run-step">{status.step.toLocaleString('en')}</strong>
        {status.totalSteps > 0 && <span className="muted"> / {status.totalSteps.toLocaleString('en')}</span>}
      </span>
      <progress max={1} value={progress} aria-label="Run progress" />
      <span className="stat stat-speed">
        <span className="stat-label">speed</span>
        <strong>{status.stepsPerSecond === null ? '–' : `${status.stepsPerSecond.toFixed(1)} steps/s`}</strong>
      </span>
      <span className="stat stat-lr" title="What the engine in the worker uses for the next step">
        <span className="stat-label">lr</span>
        <strong data-testid="engine-lr">{status.optim ? formatRate(status.optim.lr) : '–'}</strong>
      </span>
      <span className="stat stat-wd" title="What the engine in the worker uses for the next step">
        <span className="stat-label">wd</span>
        <strong data-testid="engine-wd">{status.optim ? formatRate(status.optim.weightDecay) : '–'}</strong>
      </span>
      <span className="stat">
        <span className="stat-label">grokked</span>
        <strong data-testid="grok-step">{grok === null ? 'not yet' : `at step ${grok.toLocaleString('en')}`}</strong>
      </span>
      <span className="stat adapter" data-testid="adapter">
        <span className="stat-label">GPU</span>
        <strong>{status.adapter ?? adapter}</strong>
      </span>
    </div>
  );
}
