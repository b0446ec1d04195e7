// Options of each classic output, named after Falco's own falco.yaml keys (camelCased), so that a
// falco.yaml output section maps onto them one to one (src/config/ does that mapping).

/** How an alert becomes a line: Falco's `json_output` and `json_include_*` switches. */
export interface FormatOptions {
  /** Falco's `json_output`: the JSON alert when true, Falco's text line (the `output` string) when false. Default true. */
  json?: boolean;
  /** `json_include_output_property`. Default true. */
  includeOutput?: boolean;
  /** `json_include_tags_property`. Default true. */
  includeTags?: boolean;
  /** `json_include_output_fields_property`. Default true. */
  includeOutputFields?: boolean;
}

/** `stdout_output`. */
export interface StdoutOutputOptions {
  /** File descriptor to write to; default 1. Tests may pass another. */
  fd?: number;
}

/** `file_output`. */
export interface FileOutputOptions {
  filename: string;
  /** Falco's `keep_alive`: keep the file open between alerts (true) or open and close it for every batch (false). Default false, as Falco. */
  keepAlive?: boolean;
}

/** `program_output`. */
export interface ProgramOutputOptions {
  /** Run with a shell (`/bin/sh -c`); alerts are written to its stdin, one per line. */
  program: string;
  /** Falco's `keep_alive`: one long-lived process (true) or one process per alert (false, Falco's default). */
  keepAlive?: boolean;
}

/** `syslog_output` (Falco has only `enabled`; the rest are this project's keys). */
export interface SyslogOutputOptions {
  /** `unix:///dev/log` (default), `udp://host:514` or `tcp://host:514`. */
  address?: string;
  /** 'rfc5424' (default) or 'rfc3164'. */
  format?: 'rfc5424' | 'rfc3164';
  /** Syslog facility name; default 'user' (what Falco's syslog() calls use). */
  facility?: string;
  /** APP-NAME / TAG; default 'falco'. */
  appName?: string;
}

/** `http_output`. */
export interface HttpOutputOptions {
  url: string;
  /** Default "falcosecurity/falco" as Falco sends. */
  userAgent?: string;
  /** Skip verifying the server's certificate. */
  insecure?: boolean;
  /** CA bundle file to verify the server with. */
  caCert?: string;
  /** Directory of CA certificates. */
  caPath?: string;
  /** Present a client certificate. */
  mtls?: boolean;
  clientCert?: string;
  clientKey?: string;
  /** Reuse connections. Default true. */
  keepAlive?: boolean;
  /** Requests in flight at once. Default 8. */
  maxConcurrency?: number;
  /** Attempts per alert on 5xx, 429 or a connection error before giving up. Default 5. */
  maxAttempts?: number;
  /** Per-request timeout. Default 10000 ms. */
  timeoutMs?: number;
}
