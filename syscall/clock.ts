/**
 * Clocks: clock_gettime for the clocks Node does not expose: the calling
 * thread's CPU time (for measuring drains without V8's helper threads) and
 * CLOCK_BOOTTIME (the clock of a program's load_time).
 */
import { BpfError } from './errors.ts';
import { koffi, lastErrno, libc, pointerAddress, viewOf } from './libc.ts';

export const Clock = { REALTIME: 0, MONOTONIC: 1, THREAD_CPUTIME_ID: 3, BOOTTIME: 7 } as const;

let clockGettime: ((clock: number, ts: number) => number) | undefined;
let tsBlock: BigInt64Array | undefined;
let tsAddr = 0;

/** Read `clock` into the shared timespec; returns [seconds, nanoseconds]. */
function readClock(clock: number): BigInt64Array {
  if (!clockGettime) {
    const lib = koffi.load('libc.so.6');
    clockGettime = lib.func('clock_gettime', 'int', ['int', 'uintptr_t']) as (clock: number, ts: number) => number;
    const ptr = libc().malloc(16);
    tsAddr = pointerAddress(ptr);
    tsBlock = new BigInt64Array(viewOf(ptr, 16));
  }
  if (clockGettime(clock, tsAddr) !== 0) throw new BpfError('clock_gettime', lastErrno());
  return tsBlock!;
}

/** `clock` in nanoseconds. */
export function clockNs(clock: number): bigint {
  const ts = readClock(clock);
  return ts[0]! * 1_000_000_000n + ts[1]!;
}

/**
 * CPU time of the calling thread in ns (clock_gettime(CLOCK_THREAD_CPUTIME_ID),
 * up to date to the call, steal excluded under paravirt accounting). For
 * measuring drains: process.cpuUsage() also counts V8's background threads.
 */
export function threadCpuTimeNs(): number {
  const ts = readClock(Clock.THREAD_CPUTIME_ID);
  return Number(ts[0]!) * 1e9 + Number(ts[1]!);
}
