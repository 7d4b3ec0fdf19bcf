/**
 * `tsbpf profile`: samples on-CPU stacks (kernel and user), or with
 * --off-cpu sums blocked time by stack, for --duration seconds or until
 * Ctrl-C, and prints folded stacks, JSON, or writes an interactive SVG
 * flame graph.
 */
import { writeFileSync } from 'node:fs';
import { flameGraphSvg } from '../profile/flamegraph.ts';
import { foldedStacks, profile } from '../profile/sample.ts';
import { examplePath } from '../assets.ts';
import { UsageError, type Command } from './types.ts';
import { flagValue, parseArgs, parsePositive, parseUint } from './args.ts';

export const profileCommand: Command = {
  name: 'profile',
  usage: 'profile [--off-cpu | --freq HZ] [--pid PID] [--tid TID] [--cgroup DIR] [--duration SECONDS] [--lines] [--folded | --json | --svg FILE]',
  summary: 'sample on-CPU kernel and user stacks (perf event per CPU), or --off-cpu blocked time (microseconds) by stack, into folded stacks, JSON or a flame graph',
  async run(args) {
    const { flags } = parseArgs(args, { booleans: ['folded', 'json', 'include-idle', 'off-cpu', 'lines'], values: ['freq', 'pid', 'tid', 'cgroup', 'duration', 'svg'] });
    const v = (n: string) => flagValue(flags, n);
    const frequency = v('freq') === undefined ? 99 : parseUint('--freq', v('freq')!, 100_000, 1);
    const pid = v('pid') === undefined ? undefined : parseUint('--pid', v('pid')!, 0x7fffffff, 1);
    const tid = v('tid') === undefined ? undefined : parseUint('--tid', v('tid')!, 0x7fffffff, 1);
    const duration = v('duration') === undefined ? undefined : parsePositive('--duration', v('duration')!);
    if (duration !== undefined && duration * 1000 > 0x7fffffff) throw new UsageError(`--duration must be at most ${Math.floor(0x7fffffff / 1000)} seconds`);
    const offCpu = flags.has('off-cpu');
    if (offCpu && v('freq') !== undefined) throw new UsageError('--freq is for on-CPU sampling; --off-cpu records every switch');
    if (offCpu && flags.has('include-idle')) throw new UsageError('--include-idle is for on-CPU sampling (the idle task never blocks)');
    const svg = v('svg');
    const outputs = [flags.has('folded'), flags.has('json'), svg !== undefined].filter(Boolean).length;
    if (outputs > 1) throw new UsageError('give one of --folded, --json, --svg FILE');
    const ac = new AbortController();
    const stop = () => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const timer = duration !== undefined ? setTimeout(stop, duration * 1000) : undefined;
    const until = new Promise((resolve) => ac.signal.addEventListener('abort', resolve, { once: true }));
    // Nothing else keeps the event loop alive while the kernel gathers: without this, no --duration meant exiting at once.
    const keepAlive = setInterval(() => {}, 0x7fffffff);
    let progress: NodeJS.Timeout | undefined;
    try {
      const result = await profile({
        object: examplePath(offCpu ? 'offcpu.bpf.o' : 'profile.bpf.o'), offCpu, frequency, pid, tid, cgroup: v('cgroup'), includeIdle: flags.has('include-idle'), lines: flags.has('lines'), until,
        onReady: (event) => {
          const what = offCpu ? 'tracing off-CPU (blocked) time by stack' : `sampling on-CPU stacks (${event}, ${frequency} Hz per CPU)`;
          process.stderr.write(`${what}${duration ? ` for ${duration} s` : ''}... Ctrl-C to stop\n`);
          if (process.stderr.isTTY) {
            const t0 = Date.now();
            progress = setInterval(() => process.stderr.write(`\r${((Date.now() - t0) / 1000).toFixed(0)} s`), 1000);
          }
        },
      });
      if (progress) process.stderr.write('\n');
      if (svg !== undefined) {
        const filters = [offCpu && '--off-cpu', pid && `--pid ${pid}`, tid && `--tid ${tid}`, v('cgroup') && `--cgroup ${v('cgroup')}`].filter(Boolean).join(' ');
        writeFileSync(svg, flameGraphSvg(result, { title: `tsbpf profile${filters ? ` ${filters}` : ''}`, unit: offCpu ? 'us' : 'samples' }));
        process.stderr.write(`${result.samples} ${offCpu ? 'us blocked' : 'samples'}, ${result.stacks.length} stacks -> ${svg}\n`);
      } else if (flags.has('json')) {
        process.stdout.write(JSON.stringify({
          // unit: what a count is, samples on-CPU or microseconds blocked off-CPU.
          event: result.event, unit: offCpu ? 'us' : 'samples', samples: result.samples,
          stacks: result.stacks.map((s) => ({
            pid: s.pid, comm: s.comm, count: s.count,
            frames: s.frames.map((f) => ({ ...f, address: '0x' + f.address.toString(16) })),
          })),
        }) + '\n');
      } else {
        process.stdout.write(foldedStacks(result, { lines: flags.has('lines') }));
      }
    } finally {
      clearInterval(keepAlive);
      if (timer) clearTimeout(timer);
      if (progress) clearInterval(progress);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    return 0;
  },
};
