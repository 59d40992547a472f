// `npm run data -- <scan|dyck|modarith|multitask> [options]`: print a task's data set as `input<TAB>target` lines
// (see DATA_USAGE in src/cli/task-text.ts).
import { DATA_USAGE, datasetLines } from './task-text';

// A reader that stops early (`| head`) closes the pipe; that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

try {
  const lines = datasetLines(process.argv.slice(2));
  process.stdout.write(`${lines.join('\n')}\n`);
} catch (err: unknown) {
  process.stderr.write(`data: ${err instanceof Error ? err.message : String(err)}\n${DATA_USAGE}\n`);
  process.exitCode = 1;
}
