// Settings precedence on a commander Command: flags > environment > config file > defaults.
// Commander itself puts flags over environment variables (Option.env()); these two helpers add
// the config file under both, using commander's own record of where each value came from.

import { InvalidArgumentError, type Command } from 'commander';

/** Fills the options that neither a flag nor an environment variable set, with source 'config'. */
export function fillFromConfig(cmd: Command, values: object): void {
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const source = cmd.getOptionValueSource(key);
    if (source === undefined || source === 'default') cmd.setOptionValueWithSource(key, value, 'config');
  }
}

const TRUE_WORDS = ['1', 'true', 'yes', 'on'];
const FALSE_WORDS = ['', '0', 'false', 'no', 'off'];

/**
 * Commander takes a boolean option's environment variable as true whatever it says, so
 * FALCO_GRPC_OUTPUT_INSECURE=false would turn plaintext on. Reads the word instead: false words
 * set the option to false (still from 'env', so a config file cannot turn it back on).
 */
export function readBooleanEnv(cmd: Command): void {
  for (const option of cmd.options) {
    if (!option.envVar || !option.isBoolean()) continue;
    const key = option.attributeName();
    if (cmd.getOptionValueSource(key) !== 'env') continue;
    const raw = process.env[option.envVar] ?? '';
    const word = raw.trim().toLowerCase();
    if (TRUE_WORDS.includes(word)) continue;
    if (!FALSE_WORDS.includes(word)) {
      throw new Error(`${option.envVar}: expected true or false (1/0, yes/no, on/off), got ${JSON.stringify(raw)}`);
    }
    cmd.setOptionValueWithSource(key, false, 'env');
  }
}

/** A commander argument parser from a check of src/config/checks.ts. */
export function parsedBy<T>(check: (value: unknown) => T): (value: string) => T {
  return (value) => {
    try {
      return check(value);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}
