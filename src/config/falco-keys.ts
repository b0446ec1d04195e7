// The top-level keys of falco.yaml, so a whole Falco config can be given to this project:
// Falco's own keys that are not about us are ignored silently; a key that is neither Falco's
// nor ours is most likely a typo and gets a warning naming it.

import type { ConfigDocument } from './load.js';
import type { Report } from './section.js';
import { closest } from './spelling.js';

/** This project's own top-level section. */
export const PROJECT_SECTION = 'falco_grpc_output';

/**
 * Falco's top-level keys from 0.3x to 0.44 (its config schema and falco.yaml), including the
 * ones renamed or removed over time (rules_file, outputs, modern_bpf, syscall_buf_size_preset...).
 */
export const FALCO_TOP_LEVEL_KEYS: ReadonlySet<string> = new Set([
  'append_output',
  'base_syscalls',
  'buffer_format_base64',
  'buffered_outputs',
  'capture',
  'config_files',
  'container_engines',
  'engine',
  'falco_libs',
  'file_output',
  'grpc',
  'grpc_output',
  'http_output',
  'json_include_message_property',
  'json_include_output_fields_property',
  'json_include_output_property',
  'json_include_tags_property',
  'json_output',
  'k8s_audit_endpoint',
  'libs_logger',
  'load_plugins',
  'log_level',
  'log_stderr',
  'log_syslog',
  'metadata_download',
  'metrics',
  'modern_bpf',
  'output_timeout',
  'outputs',
  'outputs_queue',
  'plugins',
  'plugins_hostinfo',
  'priority',
  'program_output',
  'rule_files',
  'rule_matching',
  'rules',
  'rules_file',
  'rules_files',
  'static_fields',
  'stdout_output',
  'syscall_buf_size_preset',
  'syscall_drop_failed_exit',
  'syscall_event_drops',
  'syscall_event_timeouts',
  'syslog_output',
  'time_format_iso_8601',
  'watch_config_files',
  'webserver',
]);

/** The top-level sections this project reads, for "did you mean" on a misspelt one. */
export const SECTIONS_READ: readonly string[] = [
  PROJECT_SECTION,
  'grpc',
  'grpc_output',
  'priority',
  'json_output',
  'json_include_output_property',
  'json_include_tags_property',
  'json_include_output_fields_property',
  'json_include_message_property',
  'buffered_outputs',
  'stdout_output',
  'file_output',
  'syslog_output',
  'program_output',
  'http_output',
];

/**
 * Warns about top-level keys that are neither Falco's nor ours, and notes that Falco's
 * `config_files` includes are not followed (settings there would otherwise vanish unnoticed).
 */
export function checkTopLevelKeys(config: ConfigDocument, report: Report): void {
  const root = config.root;
  for (const key of root.keys()) {
    if (key === PROJECT_SECTION || FALCO_TOP_LEVEL_KEYS.has(key)) continue;
    const near = closest(key, SECTIONS_READ);
    const hint = near ? `; did you mean ${near}? (as written, that section is not read)` : '';
    report('warning', `${root.where(key)}: ${key}: unknown key (neither Falco's nor ${PROJECT_SECTION}'s); ignored${hint}`);
  }
  if ((root.list('config_files', (entry) => entry)?.length ?? 0) > 0) {
    report('note', `${root.where('config_files')}: config_files: Falco's includes are not followed; put the settings this program reads in ${config.file}`);
  }
}
