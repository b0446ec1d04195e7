// `syslog_output`: alerts as syslog messages to /dev/log, or over UDP or TCP.

import type { ChannelSpec } from '../spec.js';
import { SyslogChannel } from './syslog.js';

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

export const syslogChannel: ChannelSpec<'syslog', SyslogOutputOptions> = {
  type: 'syslog',
  keys: { address: true, format: true, facility: true, appName: true },
  describe: ({ address }) => `syslog ${address ?? 'unix:///dev/log'}`,
  problem: ({ address, format }) => {
    if (address !== undefined && !/^(unix|udp|tcp):\/\//.test(address)) {
      return `address must be unix:///path, udp://host:port or tcp://host:port, got "${String(address)}"`;
    }
    if (format !== undefined && format !== 'rfc5424' && format !== 'rfc3164') return `format must be rfc5424 or rfc3164, got "${String(format)}"`;
    return null;
  },
  open: (options) => new SyslogChannel(options),
};
