// Public API of falco-grpc-output.

export { createGrpcOutput } from './outputs/grpc-output.js';
export type { GrpcOutput } from './outputs/grpc-output.js';
export type { GrpcOutputOptions } from './outputs/grpc-options.js';
export type { Output, OutputStats, DropCounts, FlushResult, QueueOptions } from './host/output.js';
export type { LogFn } from './common/log.js';
export { createOutputs, Outputs } from './outputs/fan-out.js';
export type { OutputsOptions, OutputsStats } from './outputs/fan-out.js';
export {
  createStdoutOutput,
  createFileOutput,
  createProgramOutput,
  createSyslogOutput,
  createHttpOutput,
} from './outputs/classic-outputs.js';
export type { ClassicOutputOptions } from './outputs/classic-outputs.js';
export type { StdoutOutputOptions } from './destinations/channels/stdout/index.js';
export type { FileOutputOptions } from './destinations/channels/file/index.js';
export type { ProgramOutputOptions } from './destinations/channels/program/index.js';
export type { SyslogOutputOptions } from './destinations/channels/syslog/index.js';
export type { HttpOutputOptions } from './destinations/channels/http/index.js';
export type { FormatOptions } from './codec/format.js';
export { formatterFor, toFalcoTextLine } from './codec/format.js';
export type { AlertInput, AlertTime, OutputFieldValue } from './codec/alert.js';
export { PRIORITY_NAMES } from './codec/alert.js';
export { toFalcoJsonLine } from './codec/falco-json.js';
export { jsonLiteralKeys } from './codec/json-literals.js';
export { createReceiver } from './receiver/receiver.js';
export type { Receiver, ReceiverOptions, ReceiverStats } from './receiver/receiver.js';
export { JsonLinesSink, DiscardSink, decodeAlert } from './receiver/sinks.js';
export type { Sink, AlertRun } from './receiver/sinks.js';
export type { response as FalcoAlert } from './gen/falco/outputs/outputs.js';
export type { TlsOptions } from './tls/pem.js';
export { createDevPki } from './certs/dev-pki.js';
export type { DevPki, DevPkiOptions } from './certs/dev-pki.js';
