// The one loader of the lab's versioned JSON files (run, analysis and phase-diagram files): JSON text or an
// already parsed value in, the typed file out, or a FormatError whose one-line message names the file, the path
// of the first problem, the value found there and what is allowed, e.g.
//   invalid run file: config.optim.lr is -1; must be >= 0
// Each format states its kind, the versions it reads, its JSON Schema (draft 7: types, enums derived from the
// lab's constants, numeric ranges) and the checks a schema cannot express (lengths that must agree, orders).
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';

export class FormatError extends Error {
  override name = 'FormatError';
}

export interface FileFormat<T> {
  /** What the file is called in messages ("run file"). */
  name: string;
  kind: string;
  /** The versions this lab reads (the last one is the one it writes). */
  versions: readonly number[];
  /** JSON Schema (draft 7) of every version read; `version` is checked before it. */
  schema: object;
  /** Checks beyond the schema, on a schema-valid file: throw `invalid(path, value, rule)` at the first problem. */
  check?(file: T): void;
}

export interface VersionedLoader<T> {
  readonly format: FileFormat<T>;
  /** Parses and checks a file (JSON text or a parsed value); throws a FormatError. */
  parse(input: string | unknown): T;
}

/** A FormatError about `path` of the file (e.g. "series.testAcc[3]"): its value, and what the value must be. */
export function invalid(path: string, value: unknown, rule: string): FormatError {
  return new FormatError(`${path} is ${describeValue(value)}; ${rule}`);
}

/** A value as it appears in a message: JSON, cut short (a message stays one line however large the value). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return value.length > 4 ? `an array of ${value.length} values` : short(JSON.stringify(value));
  if (typeof value === 'object' && value !== null) return 'an object';
  return short(JSON.stringify(value) ?? String(value));
}

const short = (text: string) => (text.length > 40 ? `${text.slice(0, 37)}...` : text);

export function versionedLoader<T>(format: FileFormat<T>): VersionedLoader<T> {
  let validate: ValidateFunction | undefined;
  const { name, kind, versions } = format;
  const fail = (message: string): never => {
    throw new FormatError(message);
  };
  return {
    format,
    parse(input) {
      let data: unknown = input;
      if (typeof input === 'string') {
        try {
          data = JSON.parse(input);
        } catch (err) {
          fail(`not a ${name}: not JSON (${firstLine((err as Error).message)})`);
        }
      }
      if (typeof data !== 'object' || data === null || Array.isArray(data)) return fail(`not a ${name}: a ${name} is a JSON object, got ${describeValue(data)}`);
      const header = data as { kind?: unknown; version?: unknown };
      if (header.kind !== kind) fail(`not a ${name}: kind is ${describeValue(header.kind)}, expected "${kind}"`);
      if (!versions.includes(header.version as number)) {
        fail(`unsupported ${name} version ${describeValue(header.version)}; this lab reads version${versions.length > 1 ? 's' : ''} ${versions.join(', ')}`);
      }
      validate ??= new Ajv({ allErrors: false, discriminator: true, strict: false, verbose: true }).compile(format.schema);
      if (!validate(data)) {
        const [error] = validate.errors ?? [];
        fail(`invalid ${name}: ${error ? describeError(error, data) : 'does not match its schema'}`);
      }
      const file = data as T;
      try {
        format.check?.(file);
      } catch (err) {
        if (err instanceof FormatError) fail(`invalid ${name}: ${err.message}`);
        throw err;
      }
      return file;
    },
  };
}

const firstLine = (text: string) => text.split('\n')[0];

/** "/series/testAcc/3" -> "series.testAcc[3]" (the root is "(root)"). */
export function readablePath(instancePath: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const path = parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
  return path || '(root)';
}

function valueAt(data: unknown, instancePath: string): unknown {
  let value = data;
  for (const part of instancePath.split('/').slice(1)) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return value;
}

function describeError(e: ErrorObject, data: unknown): string {
  const path = readablePath(e.instancePath);
  const value = valueAt(data, e.instancePath);
  switch (e.keyword) {
    case 'required':
      return `${path}: the field "${String(e.params.missingProperty)}" is missing`;
    case 'additionalProperties':
      return `${path}: unknown field "${String(e.params.additionalProperty)}"`;
    case 'enum':
      return invalid(path, value, `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`).message;
    case 'const':
      return invalid(path, value, `must be ${JSON.stringify(e.params.allowedValue)}`).message;
    case 'discriminator': {
      // Ajv says 'value of tag "type" must be in oneOf'; name the field instead.
      const tag = String(e.params.tag);
      const branches = ((e.parentSchema as { oneOf?: { properties?: Record<string, { const?: unknown }> }[] } | undefined)?.oneOf ?? []);
      const allowed = branches.map((b) => b.properties?.[tag]?.const).filter((v) => v !== undefined);
      return invalid(`${path}.${tag}`, e.params.tagValue, `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`).message;
    }
    default:
      return invalid(path, value, e.message ?? e.keyword).message;
  }
}

/** The first leaf where `found` and `expected` (JSON values) differ, with its path below `path`; null when equal. */
export function firstDifference(found: unknown, expected: unknown, path: string): { path: string; found: unknown; expected: unknown } | null {
  if (typeof found !== 'object' || typeof expected !== 'object' || found === null || expected === null || Array.isArray(found) !== Array.isArray(expected)) {
    return Object.is(found, expected) ? null : { path, found, expected };
  }
  const keys = new Set([...Object.keys(expected), ...Object.keys(found)]);
  for (const key of keys) {
    const a = (found as Record<string, unknown>)[key];
    const b = (expected as Record<string, unknown>)[key];
    if (a === undefined && b === undefined) continue;
    const d = firstDifference(a, b, Array.isArray(found) ? `${path}[${key}]` : `${path}.${key}`);
    if (d) return d;
  }
  return null;
}
