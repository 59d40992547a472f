// Web Locks as two tabs of one browser share them (the part RunDb's claims use): a name held by one callback is
// refused (callback(null)) to every other `ifAvailable` request until that callback returns.
import type { RunLocks } from '../../src/worker/run-db';

export function sharedLocks(): RunLocks {
  const held = new Set<string>();
  return {
    async request(name, _options, callback) {
      if (held.has(name)) return callback(null);
      held.add(name);
      try {
        return await callback({ name });
      } finally {
        held.delete(name);
      }
    },
  };
}
