// Error text for messages and stats().lastError: what failed, in one line.

/** An error's message, whatever was thrown. */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    // OpenSSL's messages run over lines of internals; its `reason` alone says it ("tlsv13 alert certificate required").
    const reason = (err as { reason?: unknown }).reason;
    const text = typeof reason === 'string' && code ? reason : err.message;
    return code && !text.includes(code) ? `${code} (${text})` : text;
  }
  return String(err);
}

/** The message of anything thrown, for an error string. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
