// Option checks shared by every constructor of the library: an error names the caller, the option
// and the value it got.

/** A number option checked against `min`, or its default; `who` names the caller in the error. */
export function positive(who: string, name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new RangeError(`${who}: ${name} must be a number >= ${min}, got ${String(value)}`);
  }
  return value;
}
