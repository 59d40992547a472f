// A small `--name value` / `--flag` parser for the CLI scripts: every option has a default, and an unknown
// option is an error that lists the known ones; and runCli, the scripts' shared exit-code handling.

/** A bad command line: the tool prints the message and its usage, and exits with 2. */
export class UsageError extends Error {}

/** Parses `argv` against `defaults`; throws a UsageError for an unknown option or a missing value. */
export function parseArgs<T extends Record<string, string | boolean>>(argv: string[], defaults: T): T {
  const out: Record<string, string | boolean> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') continue;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${arg}`);
    const [name, inline] = arg.slice(2).split('=', 2);
    if (!(name in defaults)) throw new UsageError(`unknown option --${name}; known: ${Object.keys(defaults).map((k) => `--${k}`).join(' ')}`);
    if (typeof defaults[name] === 'boolean') out[name] = inline === undefined ? true : inline !== 'false';
    else {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      out[name] = value;
    }
  }
  return out as T;
}

/** A number option's value (undefined when not given); anything else than a finite number is a UsageError. */
export function numberOption(name: string, text: string): number | undefined {
  if (text === '') return undefined;
  const value = Number(text);
  if (!Number.isFinite(value)) throw new UsageError(`--${name} must be a number, got "${text}"`);
  return value;
}

export function integerOption(name: string, text: string): number | undefined {
  const value = numberOption(name, text);
  if (value !== undefined && !Number.isInteger(value)) throw new UsageError(`--${name} must be an integer, got "${text}"`);
  return value;
}

/** Runs a script's main and exits with the code it resolves to; a failure prints "<name>: <stack>" and exits 1. */
export function runCli(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
