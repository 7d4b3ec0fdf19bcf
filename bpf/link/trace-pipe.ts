/** bpf_printk output: lines of tracefs trace_pipe as an async iterator. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { tracefsRoot } from './tracefs.ts';

export interface TraceLine {
  raw: string;
  task: string;
  pid: number;
  cpu: number;
  timestamp: number;
  message: string;
}

const LINE = /^\s*(.+?)-(\d+)\s+\[(\d+)\]\s+\S*\s+([\d.]+): (?:bpf_trace_printk: )?(.*)$/;

/** Read trace_pipe until `signal` aborts. Lines are consumed: other readers will not see them. */
export async function* tracePipe(signal?: AbortSignal): AsyncGenerator<TraceLine, void, undefined> {
  const stream = createReadStream(`${tracefsRoot()}/trace_pipe`, { encoding: 'utf8' });
  const onAbort = () => stream.destroy();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const rl = createInterface({ input: stream, crlfDelay: Infinity });
    for await (const raw of rl) {
      const m = LINE.exec(raw);
      yield m
        ? { raw, task: m[1]!, pid: Number(m[2]), cpu: Number(m[3]), timestamp: Number(m[4]), message: m[5]! }
        : { raw, task: '', pid: 0, cpu: -1, timestamp: 0, message: raw };
    }
  } catch (e) {
    if (!signal?.aborted) throw e;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    stream.destroy();
  }
}
