/**
 * `npm run fuzz [-- --count N] [--start N] [--jobs N] [--timeout MS] [--case N]`
 *
 * Runs N (default 100,000) fuzz cases under the watchdog of ./run.ts, prints
 * the counts per outcome, and exits 1 on any untyped error, hang or crash.
 * `--case N` replays one case in this process and prints its error's stack.
 */
import { formatSummary, runFuzz } from './run.ts';
import { mutateCase, runCase, Untyped } from './driver.ts';

const args = process.argv.slice(2).filter((a) => a !== '--');
const flag = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};

if (args.includes('--case')) {
  const i = flag('case', 0);
  const { seed, bytes } = mutateCase(i);
  console.log(`case ${i}: seed ${seed.name} (${seed.target}), ${bytes.length} bytes`);
  try {
    console.log(runCase(i));
  } catch (e) {
    console.log(e instanceof Untyped ? e.error : e);
    process.exitCode = 1;
  }
} else {
  const count = flag('count', 100_000);
  let shown = 0;
  const summary = await runFuzz({
    start: flag('start', 0),
    count,
    jobs: flag('jobs', 2),
    caseTimeoutMs: flag('timeout', 20_000),
    progress: (done, total) => {
      if (done - shown >= 10_000 || done === total) {
        shown = done;
        process.stderr.write(`  ${done}/${total}\n`);
      }
    },
  });
  console.log(formatSummary(summary));
  process.exitCode = summary.failures.length ? 1 : 0;
}
