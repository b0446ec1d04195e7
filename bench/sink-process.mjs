// The classic outputs benchmark's far ends, in a child process of their own (their CPU is not the
// flooding thread's): an HTTP server that answers every POST with 200 and counts the alerts, and
// a line counter for the output file. Driven by lines on stdin, answering with JSON lines on stdout:
//
//   stall    the HTTP server stops answering: requests are read and held, as by a hung server
//   resume   every held request is answered, and new ones again at once
//   counts   {"fileLines":N,"fileBytes":N,"httpPosts":N,"httpAlerts":N,"held":N}
//
// Usage: node bench/sink-process.mjs '{"file":"/path/or/null"}'  → first line {"url":"http://127.0.0.1:PORT/"}

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import http from 'node:http';
import { createInterface } from 'node:readline';

const { file } = JSON.parse(process.argv[2] ?? '{}');
const NEWLINE = 0x0a;

/** Lines and bytes in `path`, reading only what was appended since the last call. */
function fileLineCounter(path) {
  let offset = 0;
  let lines = 0;
  const chunk = Buffer.allocUnsafe(4 * 1024 * 1024);
  return () => {
    let fd;
    try {
      fd = openSync(path, 'r');
    } catch {
      return { lines, bytes: offset }; // not created yet
    }
    try {
      const size = fstatSync(fd).size;
      while (offset < size) {
        const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - offset), offset);
        if (n === 0) break;
        const read = chunk.subarray(0, n);
        for (let at = read.indexOf(NEWLINE); at !== -1; at = read.indexOf(NEWLINE, at + 1)) lines++;
        offset += n;
      }
    } finally {
      closeSync(fd);
    }
    return { lines, bytes: offset };
  };
}

const countFile = file ? fileLineCounter(file) : () => ({ lines: 0, bytes: 0 });
let httpPosts = 0;
let httpAlerts = 0;
let stalled = false;
/** Responses not yet sent, while stalled. */
let held = [];

function answer(res, alerts) {
  httpPosts++;
  httpAlerts += alerts;
  res.writeHead(200, { 'Content-Length': '0' }).end();
}

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  let alerts = 0;
  let last = NEWLINE;
  req.on('data', (chunk) => {
    for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, at + 1)) alerts++;
    last = chunk[chunk.length - 1];
  });
  req.on('end', () => {
    if (last !== NEWLINE) alerts++; // one alert per POST, as Falco sends it, usually without a newline
    if (stalled) held.push(() => answer(res, alerts));
    else answer(res, alerts);
  });
});
// A held request must outlive any stall the benchmark makes.
server.requestTimeout = 0;
server.headersTimeout = 0;

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}/` })}\n`);
});

createInterface({ input: process.stdin }).on('line', (line) => {
  switch (line.trim()) {
    case 'stall':
      stalled = true;
      break;
    case 'resume':
      stalled = false;
      for (const send of held.splice(0)) send();
      break;
    case 'counts':
      const { lines: fileLines, bytes: fileBytes } = countFile();
      process.stdout.write(`${JSON.stringify({ fileLines, fileBytes, httpPosts, httpAlerts, held: held.length })}\n`);
      break;
    default:
      process.stderr.write(`destinations: unknown control line "${line}"\n`);
  }
}).on('close', () => process.exit(0));
