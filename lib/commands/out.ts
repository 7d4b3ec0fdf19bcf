/** Streaming standard output for the CLI: writes that wait when the pipe is full, so big dumps never pile up in memory. */

/** Write `s` to stdout; resolves once Node took it (at once, or when the pipe drained). */
export function writeOut(s: string): Promise<void> {
  if (!s) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const ok = process.stdout.write(s, (err) => (err ? reject(err) : undefined));
    if (ok) resolve();
    else process.stdout.once('drain', () => resolve());
  });
}

/** How much text a verb gathers before handing it to stdout. */
export const OUT_CHUNK = 64 * 1024;

/** The output flags every bpftool-like verb takes: `-j`/`--json`, `-p`/`--pretty` (parseArgs maps them to these booleans). */
export const JSON_FLAGS = { booleans: ['json', 'pretty'] };

/** Whether the verb answers in JSON, and pretty-printed (bpftool indents by 4). */
export interface OutputOpts {
  json: boolean;
  pretty: boolean;
}

export function outputOpts(flags: Map<string, string | true>): OutputOpts {
  return { json: flags.has('json') || flags.has('pretty'), pretty: flags.has('pretty') };
}

/** Write `v` as JSON on one line, or indented under -p. */
export function printJson(o: OutputOpts, v: unknown): Promise<void> {
  return writeOut(JSON.stringify(v, null, o.pretty ? 4 : undefined) + '\n');
}
