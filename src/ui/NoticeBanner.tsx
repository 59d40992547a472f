// The page's one message line: errors (what failed and why, in words) and notes (what just happened), dismissable;
// and, while a recording is on show, a line that says so (it is never mistaken for a run training here).
import { actions, labStore, useLab } from './lab';

function RecordingBanner() {
  const recording = useLab((s) => s.status.recording);
  const playing = useLab((s) => s.status.phase === 'playing');
  if (!recording) return null;
  return (
    <p className="notice notice-recording" role="status" data-testid="recording-banner">
      <strong>{playing ? '▶ Playing a recording' : 'A recording'}:</strong> {recording.title}, recorded by this lab’s engine on {recording.adapter || 'an unnamed adapter'}. Nothing
      trains on this computer; press Start to train the run here.{' '}
      {playing && (
        <button type="button" className="link" onClick={() => void actions.skipPlayback()} data-testid="skip-playback">
          Skip to the end
        </button>
      )}
    </p>
  );
}

export function NoticeBanner() {
  const notice = useLab((s) => s.notice);
  const statusMessage = useLab((s) => s.status.message);
  return (
    <>
      <RecordingBanner />
      {statusMessage && (
        <p className="notice notice-status" role="status" data-testid="status-message">
          {statusMessage}
        </p>
      )}
      {notice && (
        <div className={`notice notice-${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'} data-testid="notice">
          <p>{notice.text}</p>
          <button type="button" className="link" onClick={() => labStore.getState().setNotice(null)} aria-label="Dismiss this message">
            Dismiss
          </button>
        </div>
      )}
    </>
  );
}
