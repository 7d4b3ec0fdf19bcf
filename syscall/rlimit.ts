/**
 * RLIMIT_MEMLOCK: kernels before 5.11 charge BPF memory to it, so a low
 * limit fails map creation with EPERM. Since 5.11 memory is charged to the
 * memory cgroup and the limit is irrelevant, so we leave it alone there.
 */
import { libc } from './libc.ts';
import { NativeBlock } from './memory.ts';
import { kernelVersion } from './uname.ts';

const RLIMIT_MEMLOCK = 8;
const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

let done = false;

/** Raise RLIMIT_MEMLOCK to infinity on pre-5.11 kernels; a no-op elsewhere and after the first call. */
export function ensureMemlock(): void {
  if (done) return;
  done = true;
  const [maj, min] = kernelVersion();
  if (maj > 5 || (maj === 5 && min >= 11)) return;
  const rl = new NativeBlock(16);
  try {
    if (libc().getrlimit(RLIMIT_MEMLOCK, rl.addr) !== 0) return;
    if (rl.view.getBigUint64(0, true) === RLIM_INFINITY) return;
    rl.view.setBigUint64(0, RLIM_INFINITY, true);
    rl.view.setBigUint64(8, RLIM_INFINITY, true);
    libc().setrlimit(RLIMIT_MEMLOCK, rl.addr); // best effort: without CAP_SYS_RESOURCE the error surfaces at create
  } finally {
    rl.free();
  }
}
