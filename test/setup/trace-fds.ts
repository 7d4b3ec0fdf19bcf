/**
 * Every test worker traces fds: a handle a test drops without close() is
 * reported (process warning TSBPF_FD_LEAK) with the stack that created it.
 */
import { traceFds } from '../../bpf/handle.ts';

traceFds(true);
