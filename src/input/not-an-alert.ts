// Why an input is not an alert, in the words of the person who configured Falco: a line or a
// body of Falco's text output (json_output: false) says which setting to change.

import { MalformedAlertLineError } from '../codec/falco-json.js';

const JSON_OUTPUT_HINT = "set json_output: true in falco.yaml (Falco writes text lines like this one when it is false)";

/**
 * The reason for a refused input. `text` is the input; `declaredText` is true when the sender
 * said it is text (HTTP Content-Type text/plain).
 */
export function whyNotAnAlert(err: unknown, text: string, declaredText = false): string {
  const message = err instanceof Error ? err.message : String(err);
  if (!(err instanceof MalformedAlertLineError) || !message.startsWith('not JSON')) return message;
  if (declaredText) return `body is text/plain and not JSON: ${JSON_OUTPUT_HINT}`;
  // Falco's text output starts with the time ("05:00:00.000000970: Notice ..." or an ISO date).
  const start = text.trimStart();
  if (!start.startsWith('{') && !start.startsWith('[')) return `not JSON, but text: ${JSON_OUTPUT_HINT}`;
  return message;
}
