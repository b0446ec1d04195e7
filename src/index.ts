// Public API of falco-grpc-output.

export { createGrpcOutput } from './transmitter/grpc-output.js';
export type { GrpcOutput } from './transmitter/grpc-output.js';
export type { Output, OutputStats, DropCounts, FlushResult, QueueOptions } from './outputs/output.js';
export {
  createOutputs,
  createStdoutOutput,
  createFileOutput,
  createProgramOutput,
  createSyslogOutput,
  createHttpOutput,
  Outputs,
} from './outputs/create-outputs.js';
export type { OutputsOptions, OutputsStats, ClassicOutputOptions } from './outputs/create-outputs.js';
export type {
  FormatOptions,
  StdoutOutputOptions,
  FileOutputOptions,
  ProgramOutputOptions,
  SyslogOutputOptions,
  HttpOutputOptions,
} from './outputs/types.js';
export { formatterFor, toFalcoTextLine } from './outputs/format.js';
export type { GrpcOutputOptions } from './transmitter/options.js';
export type { AlertInput, AlertTime, OutputFieldValue } from './codec/alert.js';
export { PRIORITY_NAMES } from './codec/alert.js';
export { toFalcoJsonLine } from './codec/falco-json.js';
export { jsonLiteralKeys } from './codec/json-literals.js';
export { createReceiver } from './receiver/receiver.js';
export type { Receiver, ReceiverOptions, ReceiverStats } from './receiver/receiver.js';
export { JsonLinesSink, DiscardSink, decodeAlert } from './receiver/sinks.js';
export type { Sink } from './receiver/sinks.js';
export type { response as FalcoAlert } from './gen/falco/outputs/outputs.js';
export type { TlsOptions } from './tls/pem.js';
export { createDevPki } from './certs/dev-pki.js';
export type { DevPki, DevPkiOptions } from './certs/dev-pki.js';
// The receiver's web console (docs/console.md).
export { createConsole } from './console/server.js';
export type { ConsoleOptions, WebConsole } from './console/server.js';
export type { ReceiverView, AlertListener, SinkState } from './receiver/receiver.js';
