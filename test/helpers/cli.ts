// Runs one of the CLI scripts (src/cli/<name>.ts) as `npm run` does, through vite-node, and gives its exit code and
// output, whatever the code; or starts one to signal while it runs.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
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

/** Starts a CLI script without waiting: its process (to signal), its output so far, and its exit. */
export function startScript(name: string, ...args: string[]): { child: ChildProcess; output: () => string; exit: Promise<ScriptResult> } {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const child = spawn(process.execPath, ['node_modules/vite-node/dist/cli.mjs', `src/cli/${name}.ts`, '--', ...args], { cwd: root });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<ScriptResult>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
  return { child, output: () => stdout, exit };
}
