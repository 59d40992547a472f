// Runs one of the CLI scripts (src/cli/<name>.ts) as `npm run` does, through vite-node, and gives its exit code and
// output, whatever the code.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runScript(name: string, ...args: string[]): Promise<ScriptResult> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  return promisify(execFile)(process.execPath, ['node_modules/vite-node/dist/cli.mjs', `src/cli/${name}.ts`, '--', ...args], { cwd: root }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );
}
