// The CLI's output files: checked for writability before any training or GPU work (so a bad --out fails in a
// second, not after the run), and written atomically (a temporary file in the same folder, then a rename), so an
// interrupted or failed write never leaves half a file where a good one was.
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from './args';

/**
 * Throws a UsageError (exit code 2, no usage) naming `option` unless a file can be created at `path` ('file') or
 * inside the folder `path` ('folder'). Creates nothing that stays: a probe file is made and removed in the nearest
 * folder that exists, and folders that do not exist yet are left to the write.
 */
export function checkWritable(option: string, path: string, kind: 'file' | 'folder'): void {
  const fail = (why: string) => {
    throw new UsageError(`${option} ${path}: cannot write ${kind === 'file' ? 'this file' : 'into this folder'} (${why})`, false);
  };
  const target = resolve(path);
  if (existsSync(target)) {
    const isDir = statSync(target).isDirectory();
    if (kind === 'file' && isDir) fail('it is a folder');
    if (kind === 'folder' && !isDir) fail('it is a file');
  }
  let folder = kind === 'folder' ? target : dirname(target);
  while (!existsSync(folder)) folder = dirname(folder);
  if (!statSync(folder).isDirectory()) fail(`${folder} is a file, not a folder`);
  const probe = join(folder, `.${basename(target)}.${process.pid}.probe`);
  try {
    closeSync(openSync(probe, 'wx'));
  } catch (err) {
    fail((err as Error).message);
  } finally {
    rmSync(probe, { force: true });
  }
}

/** Writes `data` to `path` (making its folder) through a temporary file in the same folder and a rename. */
export function writeAtomically(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, data);
    renameSync(temporary, path);
  } finally {
    rmSync(temporary, { force: true });
  }
}
