/** bpf_printk output: lines of tracefs trace_pipe as an async iterator. */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { TsbpfError } from '../../errors.ts';
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

/** How long to wait before reading an empty pipe again. */
const IDLE_MS = 50;

function parse(raw: string): TraceLine {
  const m = LINE.exec(raw);
  return m
    ? { raw, task: m[1]!, pid: Number(m[2]), cpu: Number(m[3]), timestamp: Number(m[4]), message: m[5]! }
    : { raw, task: '', pid: 0, cpu: -1, timestamp: 0, message: raw };
}

function idle(signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, IDLE_MS);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Read trace_pipe until `signal` aborts. Lines are consumed: other readers will not see them.
 * The pipe is read without blocking (O_NONBLOCK, polled every 50 ms when empty): a blocking
 * read would hold a libuv pool thread until the next trace line, and an abort could not end it.
 */
export async function* tracePipe(signal?: AbortSignal): AsyncGenerator<TraceLine, void, undefined> {
  // Anything else (an options object) would throw later from a timer, outside the caller's try.
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TsbpfError('BAD_ARGUMENT', `tracePipe takes an AbortSignal or nothing, got ${signal === null ? 'null' : typeof signal}`);
  }
  if (signal?.aborted) return;
  const fh = await open(`${tracefsRoot()}/trace_pipe`, constants.O_RDONLY | constants.O_NONBLOCK);
  const buf = Buffer.alloc(64 * 1024);
  const decoder = new StringDecoder('utf8');
  let rest = '';
  try {
    while (!signal?.aborted) {
      let n: number;
      try {
        n = (await fh.read(buf, 0, buf.length, null)).bytesRead;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        n = 0;
      }
      if (n === 0) {
        await idle(signal);
        continue;
      }
      const lines = (rest + decoder.write(buf.subarray(0, n))).split('\n');
      rest = lines.pop()!;
      for (const raw of lines) {
        if (signal?.aborted) return;
        yield parse(raw);
      }
    }
  } finally {
    await fh.close();
  }
}
