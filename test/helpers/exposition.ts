// Reading Prometheus text expositions in the metrics tests: samples by name and labels.

import { expect } from 'vitest';

/** Every metric's prefix. */
export const P = 'falco_grpc_output_';

export interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (comments aside). */
export function parseExposition(text: string): Series[] {
  const series: Series[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    series.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return series;
}

/** The value of the one series with this name and (at least) these labels; throws unless exactly one. */
export function valueOf(series: readonly Series[], name: string, labels: Record<string, string> = {}): number {
  const found = series.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`${found.length} series ${name}${JSON.stringify(labels)}`);
  return found[0]!.value;
}

export async function scrape(url: string): Promise<Series[]> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}
