// npm run screenshot: docs/console.png, the web console of a real receiver while two real
// transmitters send the sample alerts (test/fixtures/falco-alerts.jsonl) at a varying rate and a
// Falco subscription client listens. One alert is opened to show its output_fields.
//
//   npm run screenshot                         60 s of traffic, then docs/console.png
//   npm run screenshot -- --seconds 20 --out /tmp/c.png

import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createConsole, createGrpcOutput, createReceiver, DiscardSink } from '../dist/src/index.js';
import { parseFalcoJsonLine } from '../dist/src/codec/falco-json.js';
import { launchChromium } from './chromium.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, out: { type: 'string', default: join(root, 'docs/console.png') } } });
const seconds = Number(args.seconds);
const samples = readFileSync(join(root, 'test/fixtures/falco-alerts.jsonl'), 'utf8').trim().split('\n').map(parseFalcoJsonLine);

const dir = mkdtempSync(join(tmpdir(), 'fgo-screenshot-'));
const target = `unix://${join(dir, 'receiver.sock')}`;
const receiver = createReceiver({ listen: [target], sink: new DiscardSink(), log: () => {} });
const ui = createConsole({ listen: '127.0.0.1:0', receiver, addresses: ['localhost:50051 (mTLS)'] });
const url = await ui.start();
await receiver.start();

// A Falco subscription client, so the subscribers table has a row.
const definition = protoLoader.loadSync('falco/outputs/outputs.proto', { includeDirs: [join(root, 'proto')], keepCase: true });
const { falco } = grpc.loadPackageDefinition(definition);
const subscriber = new falco.outputs.service(target, grpc.credentials.createInsecure());
const sub = subscriber.sub();
sub.on('data', () => {});
sub.on('error', () => {});
sub.write({});

const producers = ['falco-worker-node-1', 'falco-edge-gw'].map((producerId) => createGrpcOutput({ target, producerId }));
let next = 0;
/** Alerts per second at second t: a calm baseline, a slow swell, and one burst. */
const rateAt = (t) => 180 + 120 * Math.sin(t / 6) + (t > seconds * 0.55 && t < seconds * 0.65 ? 1400 : 0);
const started = Date.now();
const pacer = setInterval(() => {
  const t = (Date.now() - started) / 1000;
  const n = Math.round(rateAt(t) / 10);
  for (let i = 0; i < n; i++) {
    const sample = samples[next++ % samples.length];
    // Now, to the nanosecond; the output line and evt.time say the same time, as Falco's would.
    const time = BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1e6));
    const clock = `${new Date(Number(time / 1_000_000n)).toISOString().slice(11, 19)}.${String(time % 1_000_000_000n).padStart(9, '0')}`;
    const fields = 'evt.time' in sample.output_fields ? { ...sample.output_fields, 'evt.time': time } : sample.output_fields;
    producers[next % 7 === 0 ? 1 : 0].emit({ ...sample, time, output: sample.output.replace(/^\d\d:\d\d:\d\d\.\d{9}/, clock), output_fields: fields });
  }
}, 100);

const browser = await launchChromium({ viewport: { width: 1600, height: 1000 } });
try {
  const page = await browser.context.newPage();
  await page.goto(url);
  process.stderr.write(`screenshot: ${seconds} s of alerts into ${url}\n`);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  // Paused, the list holds still (the button counts what arrives meanwhile), and one alert is opened.
  await page.click('#pause');
  await page.waitForTimeout(600);
  await page.locator('#alerts .alert > .row').nth(1).click();
  await page.waitForSelector('.detail');
  await page.waitForTimeout(300);
  mkdirSync(dirname(args.out), { recursive: true });
  await page.screenshot({ path: args.out, fullPage: true });
  process.stderr.write(`screenshot: wrote ${args.out}\n`);
} finally {
  clearInterval(pacer);
  await browser.close();
  sub.cancel();
  subscriber.close();
  for (const p of producers) await p.close(5000);
  await ui.close();
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
}
