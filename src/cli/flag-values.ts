// Flag values checked as the config file's are (src/config/checks.ts), with errors that name the
// flag: "--buffer-bytes: expected a size in bytes ..., got "1MeB"".

import { accessSync, constants, statSync } from 'node:fs';
import { checkGrpcAddress, checkSize } from '../config/checks.js';

function named<T>(flag: string, check: (value: unknown) => T, value: unknown): T {
  try {
    return check(value);
  } catch (err) {
    throw new Error(`${flag}: ${(err as Error).message}`);
  }
}

/** A size in bytes: 65536, 512KiB, 8MiB, 1GiB (a number when it came from a config file). */
export function sizeFlag(flag: string, value: string | number): number {
  return named(flag, checkSize, value);
}

/** A receiver address: host:port or unix:///path. */
export function addressFlag(flag: string, value: string): string {
  return named(flag, checkGrpcAddress, value);
}

/** Throws, naming `what` (the flag and its value), unless `dir` is a directory this user can create files in. */
export function checkWritableDirectory(what: string, dir: string, create: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new Error(`${what}: the directory ${dir} does not exist${create ? `; ${create}` : ''}`);
  }
  if (!isDir) throw new Error(`${what}: ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new Error(`${what}: cannot create files in ${dir}: permission denied for this user`);
  }
}
