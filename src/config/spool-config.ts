// The `spool:` map of an output in a config file (falco_grpc_output.send.spool for the gRPC
// output, file_output.spool and the like for the classic ones), as the library's SpoolOptions.

import { checkOneOf, checkPositiveInteger } from './checks.js';
import { definedOnly, type ConfigSection } from './section.js';
import type { SpoolOptions } from '../spool/options.js';

/** The `spool:` map of `parent`, checked (unknown keys are errors), or undefined when absent. */
export function readSpool(parent: ConfigSection): SpoolOptions | undefined {
  const present = parent.has('spool');
  const s = parent.section('spool');
  if (!present) return undefined;
  const options = definedOnly({
    dir: s.filePath('dir') ?? '',
    maxBytes: s.value('max_bytes', checkPositiveInteger),
    whenFull: s.value('when_full', (v) => checkOneOf(v, ['drop_newest', 'drop_oldest'] as const)),
    fsync: s.value('fsync', (v) => checkOneOf(v, ['interval', 'always', 'never'] as const)),
  });
  s.finish('error', () => {});
  if (options.dir === '') s.fail('dir', `required: this output's own spool directory`);
  return options;
}
