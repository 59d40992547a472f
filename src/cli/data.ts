// `npm run data -- <scan|dyck|modarith|multitask> [options]`: print a task's data set as `input<TAB>target` lines
// (see DATA_USAGE in src/cli/task-text.ts).
import { DATA_USAGE, datasetLines } from './task-text';
import { runCli, UsageError } from './args';

// A reader that stops early (`| head`) closes the pipe; that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

runCli('data', async () => {
  let lines: string[];
  try {
    lines = datasetLines(process.argv.slice(2));
  } catch (err) {
    // Everything datasetLines refuses is in its arguments.
    throw new UsageError((err as Error).message);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}, DATA_USAGE);
