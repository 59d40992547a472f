// The page's one message line: errors (what failed and why, in words) and notes (what just happened), dismissable.
import { labStore, useLab } from './lab';

export function NoticeBanner() {
  const notice = useLab((s) => s.notice);
  const statusMessage = useLab((s) => s.status.message);
  return (
    <>
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
