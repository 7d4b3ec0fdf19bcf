/**
 * `tsbpf map event_pipe MAP [cpu N index M] [--count N]`: print what BPF
 * programs write into a perf event array (bpf_perf_event_output) until Ctrl-C
 * or `--count` records, like bpftool map event_pipe.
 */
import { PerfBufferReader } from '../../bpf/events/perfbuf.ts';
import { MapType, mapTypeBpftoolName } from '../../bpf/maps/types.ts';
import { TsbpfError } from '../../errors.ts';
import { BpftoolJsonWriter } from '../../btf/format-bpftool.ts';
import { UsageError, type Command } from './types.ts';
import { flagValue, isKeyword, parseArgs, parseUint } from './args.ts';
import { openMap, takeRef } from './map-select.ts';
import { writeOut } from './out.ts';

const hexPlain = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

export const mapEventPipe: Command = {
  name: 'map event_pipe',
  usage: 'map event_pipe (id N | pinned PATH | name NAME) [cpu N index M] [--count N] [-j|-p]',
  summary: 'print the records programs write into a perf event array, until Ctrl-C or --count records',
  async run(args) {
    const { positional, flags } = parseArgs(args, { booleans: ['json', 'pretty'], values: ['count'], min: 2, max: 6 });
    const json = flags.has('json');
    const countArg = flagValue(flags, 'count');
    const count = countArg === undefined ? Infinity : parseUint('--count', countArg, Number.MAX_SAFE_INTEGER, 1);
    const { ref, next } = takeRef(positional, 0);
    let cpu: number | undefined;
    let index: number | undefined;
    for (let i = next; i < positional.length; i += 2) {
      const w = positional[i]!;
      const v = positional[i + 1];
      if (v === undefined) throw new UsageError(`'${w}' needs a value`);
      if (isKeyword(w, 'cpu')) cpu = parseUint('cpu', v);
      else if (isKeyword(w, 'index')) index = parseUint('index', v);
      else throw new UsageError(`expected 'cpu' or 'index', got: '${w}'`);
    }
    if ((cpu === undefined) !== (index === undefined)) throw new UsageError('cpu and index must be specified together');
    // tsbpf's perf reader keys each CPU's buffer at its own index, bpftool's default layout.
    if (cpu !== undefined && cpu !== index) throw new UsageError(`tsbpf reads CPU N's records at index N: index must equal cpu (${cpu})`);
    using m = openMap(ref);
    if (m.type !== MapType.PERF_EVENT_ARRAY) throw new TsbpfError('WRONG_MAP_TYPE', `map '${m.name}' is ${mapTypeBpftoolName(m.type)}: event_pipe needs a perf_event_array`);
    using reader = new PerfBufferReader(m, cpu !== undefined ? { cpus: [cpu] } : {});
    const ac = new AbortController();
    const stop = () => {
      process.stderr.write('Stopping...\n');
      ac.abort();
    };
    process.once('SIGINT', stop);
    let n = 0;
    try {
      for await (const e of reader.records({ signal: ac.signal })) {
        if (json) {
          const w = new BpftoolJsonWriter(flags.has('pretty'));
          w.begin('{');
          w.name('type');
          w.raw(e.type === 'sample' ? '9' : '2'); // PERF_RECORD_SAMPLE, PERF_RECORD_LOST
          w.name('cpu');
          w.raw(String(e.cpu));
          w.name('index');
          w.raw(String(e.cpu));
          if (e.type === 'sample') {
            w.name('data');
            w.hexArray(e.data);
          } else {
            w.name('lost');
            w.begin('{');
            w.name('count');
            w.raw(String(e.lost));
            w.end('}');
          }
          w.end('}');
          await writeOut(w.take() + '\n');
        } else if (e.type === 'sample') await writeOut(`== CPU: ${e.cpu} index: ${e.cpu} =====\n${hexPlain(e.data)}\n`);
        else await writeOut(`lost ${e.lost} events\n`);
        if (++n >= count) break;
      }
    } catch (e) {
      if (!ac.signal.aborted) throw e;
    } finally {
      process.off('SIGINT', stop);
    }
    return 0;
  },
};
