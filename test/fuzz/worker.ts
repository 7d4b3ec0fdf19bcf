/**
 * A fuzz worker process (started by ./run.ts): runs cases FIRST, FIRST+STRIDE,
 * ... below END and prints one line per case, `<case>\t<outcome>[\t<detail>]`.
 * stdout to a pipe is synchronous on Linux, so the parent has every finished
 * case even when this process crashes or is killed mid-case.
 */
import { runCase, Untyped } from './driver.ts';

const [first, end, stride] = process.argv.slice(2).map(Number) as [number, number, number];
const hangOn = Number(process.env.TSBPF_FUZZ_HANG_ON ?? -1); // the watchdog's own test
for (let i = first; i < end; i += stride) {
  if (i === hangOn) for (;;);
  let line: string;
  try {
    line = `${i}\t${runCase(i)}`;
  } catch (e) {
    const where = e instanceof Untyped ? e.where : 'driver';
    const err = e instanceof Untyped ? e.error : e;
    const detail = err instanceof Error ? `${err.name}: ${err.message} | ${(err.stack ?? '').split('\n').slice(1, 4).map((l) => l.trim()).join(' | ')}` : String(err);
    line = `${i}\tuntyped:${where}\t${detail.replace(/[\t\n]/g, ' ').slice(0, 600)}`;
  }
  process.stdout.write(line + '\n');
}
