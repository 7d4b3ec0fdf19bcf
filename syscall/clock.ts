/** Clocks: the calling thread's CPU time (for measuring drains without V8's helper threads). */
import { BpfError } from './errors.ts';
import { koffi, lastErrno, libc, pointerAddress, viewOf } from './libc.ts';

const CLOCK_THREAD_CPUTIME_ID = 3;
let clockGettime: ((clock: number, ts: number) => number) | undefined;
let tsBlock: BigInt64Array | undefined;
let tsAddr = 0;

/**
 * CPU time of the calling thread in ns (clock_gettime(CLOCK_THREAD_CPUTIME_ID),
 * up to date to the call, steal excluded under paravirt accounting). For
 * measuring drains: process.cpuUsage() also counts V8's background threads.
 */
export function threadCpuTimeNs(): number {
  if (!clockGettime) {
    const lib = koffi.load('libc.so.6');
    clockGettime = lib.func('clock_gettime', 'int', ['int', 'uintptr_t']) as (clock: number, ts: number) => number;
    const ptr = libc().malloc(16);
    tsAddr = pointerAddress(ptr);
    tsBlock = new BigInt64Array(viewOf(ptr, 16));
  }
  if (clockGettime(CLOCK_THREAD_CPUTIME_ID, tsAddr) !== 0) throw new BpfError('clock_gettime', lastErrno());
  return Number(tsBlock![0]!) * 1e9 + Number(tsBlock![1]!);
}
