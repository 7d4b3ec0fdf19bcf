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
