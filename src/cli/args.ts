// A small `--name value` / `--flag` parser for the CLI scripts: every option has a default, and an unknown
// option is an error that lists the known ones; and runCli, the scripts' shared error and exit-code handling.

/** A bad command line (an option, or an output path that cannot be written): the tool prints it and exits with 2. */
export class UsageError extends Error {
  override name = 'UsageError';

  constructor(
    message: string,
    /** Whether the usage follows the message (not for a path that cannot be written: the options were right). */
    readonly showUsage = true,
  ) {
    super(message);
  }
}

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

/**
 * Runs a script's main and exits with the code it resolves to. A failure is one line on stderr, "<script>: <message>"
 * (with the error's class when it is not a plain Error), then exit code 2 for a UsageError (with `usage` after it
 * when the error asks for it) and 1 for anything else; DEBUG=1 prints the stack as well.
 */
export function runCli(name: string, main: () => Promise<number>, usage?: string): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      const usageError = err instanceof UsageError;
      process.stderr.write(`${name}: ${usageError ? oneLine(err.message) : describeError(err)}\n`);
      if (usageError && err.showUsage && usage) process.stderr.write(`${usage}\n`);
      if (process.env.DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
      process.exitCode = usageError ? 2 : 1;
    },
  );
}

/** An error as one line: "message", or "Class: message" for a class other than Error. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return oneLine(String(err));
  return oneLine(err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message);
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();
