/**
 * `tsbpf execsnoop`: traces every exec on the system through the
 * sched_process_exec tracepoint and a ring buffer, and prints one line per
 * exec. The event layout comes from the object's BTF, not from a hand-written
 * struct.
 */
import { loadCollectionSpec } from '../../bpf/loader/collection-spec.ts';
import { loadCollection, setVariable } from '../../bpf/loader/collection.ts';
import { RingBufferReader } from '../../bpf/events/ringbuf.ts';
import { btfCodec } from '../../btf/codec.ts';
import { examplePath } from '../assets.ts';
import { TsbpfError } from '../../errors.ts';
import { UsageError, type Command } from './types.ts';
import { flagValue, parseArgs, parsePositive, parseUint } from './args.ts';

export interface ExecEvent {
  pid: number;
  ppid: number;
  uid: number;
  comm: string;
  filename: string;
}

export interface ExecsnoopOptions {
  signal?: AbortSignal;
  /** Only children of this process. */
  ppid?: number;
  /** Called once the probe is attached (before any event). */
  onReady?: () => void;
}

/** Trace execs until `signal` aborts; yields one decoded event per exec. */
export async function* execsnoop(opts: ExecsnoopOptions = {}): AsyncGenerator<ExecEvent, void, undefined> {
  const spec = loadCollectionSpec(examplePath('execsnoop.bpf.o'));
  if (opts.ppid) setVariable(spec, 'target_ppid', opts.ppid);
  const btf = spec.btf;
  const eventType = btf?.findByName('event', 'struct');
  if (!btf || !eventType) throw new TsbpfError('NO_BTF_TYPE', 'execsnoop.bpf.o has no BTF for struct event');
  const event = btfCodec<ExecEvent>(btf, eventType.id);
  using coll = loadCollection(spec);
  coll.attachAll();
  using reader = new RingBufferReader(coll.maps['events']!);
  opts.onReady?.();
  try {
    yield* reader.records({ signal: opts.signal, codec: event });
  } catch (e) {
    if (!opts.signal?.aborted) throw e;
  }
}

export const execsnoopCommand: Command = {
  name: 'execsnoop',
  usage: 'execsnoop [--duration SECONDS] [--json] [--ppid PID]',
  summary: 'trace process executions (sched_process_exec + ring buffer) until Ctrl-C',
  async run(args) {
    const { flags } = parseArgs(args, { booleans: ['json'], values: ['duration', 'ppid'] });
    const json = flags.has('json');
    const durationArg = flagValue(flags, 'duration');
    const ppidArg = flagValue(flags, 'ppid');
    const duration = durationArg === undefined ? undefined : parsePositive('--duration', durationArg);
    // setTimeout takes at most 2^31-1 ms.
    if (duration !== undefined && duration * 1000 > 0x7fffffff) throw new UsageError(`--duration must be at most ${Math.floor(0x7fffffff / 1000)} seconds`);
    const ppid = ppidArg === undefined ? undefined : parseUint('--ppid', ppidArg, 0x7fffffff, 1);
    const ac = new AbortController();
    const onSig = () => ac.abort();
    process.once('SIGINT', onSig);
    process.once('SIGTERM', onSig);
    const timer = duration !== undefined ? setTimeout(onSig, duration * 1000) : undefined;
    try {
      let header = !json;
      for await (const e of execsnoop({ signal: ac.signal, ppid, onReady: () => process.stderr.write('tracing execs... Ctrl-C to stop\n') })) {
        if (json) {
          process.stdout.write(JSON.stringify({ pid: e.pid, ppid: e.ppid, uid: e.uid, comm: e.comm, filename: e.filename }) + '\n');
          continue;
        }
        if (header) {
          process.stdout.write(`${'PCOMM'.padEnd(16)} ${'PID'.padStart(7)} ${'PPID'.padStart(7)} ${'UID'.padStart(5)} FILENAME\n`);
          header = false;
        }
        process.stdout.write(`${e.comm.padEnd(16)} ${String(e.pid).padStart(7)} ${String(e.ppid).padStart(7)} ${String(e.uid).padStart(5)} ${e.filename}\n`);
      }
    } finally {
      if (timer) clearTimeout(timer);
      process.off('SIGINT', onSig);
      process.off('SIGTERM', onSig);
    }
    return 0;
  },
};
