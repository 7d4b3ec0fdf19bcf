/**
 * BPF_PROG_LOAD's EAGAIN: the verifier gives up when a signal is pending (a
 * sampling profiler's SIGPROF can interrupt every run). The seam injects the
 * interruptions; the loads that get through reach the real kernel.
 */
import { describe, expect } from 'vitest';
import { Program } from '../bpf/programs/program.ts';
import { VerifierError } from '../bpf/programs/verifier.ts';
import { asm, encodeInsns } from '../bpf/programs/insn.ts';
import { BpfCmd } from '../syscall/bpf.ts';
import { BpfError } from '../syscall/errors.ts';
import { ktest } from './helpers/kernel.ts';
import { injectingSyscalls } from './helpers/syscalls.ts';

const EAGAIN = 11;
const ret0 = () => Program.load({ name: 'ret0', type: 'SOCKET_FILTER', instructions: encodeInsns([asm.mov64Imm(0, 0), asm.exit()]), license: 'GPL' });

/** Run `fn` with its first `n` program loads interrupted (every one when n is Infinity). */
const interrupted = <T>(n: number, fn: () => T) => injectingSyscalls((cmd, i) => (cmd === BpfCmd.PROG_LOAD && i <= n ? -EAGAIN : undefined), fn);

describe('a verifier interrupted by signals', () => {
  ktest('a few interrupted runs are retried and the program loads', () => {
    const { calls, result, error } = interrupted(3, () => {
      using p = ret0();
      return p.info().name;
    });
    expect(error).toBeUndefined();
    expect(result).toBe('ret0');
    expect(calls.get(BpfCmd.PROG_LOAD)).toBe(4);
  });

  ktest('interrupted on every run: a typed EAGAIN naming the cause, not a verifier rejection', () => {
    const { calls, error } = interrupted(Infinity, ret0);
    expect(error).toBeInstanceOf(BpfError);
    expect(error).not.toBeInstanceOf(VerifierError);
    expect(error).toMatchObject({ code: 'EAGAIN', command: 'BPF_PROG_LOAD', object: 'ret0' });
    expect((error as BpfError).hint).toMatch(/interrupted by a pending signal.*profiler/);
    // Six tries without a log, six with one: bounded, never a loop.
    expect(calls.get(BpfCmd.PROG_LOAD)).toBe(12);
  });

  ktest('interrupted only without a log: the run with a log gives the real verdict', () => {
    // r0 is never set: the verifier's EACCES, with its log.
    const { error } = interrupted(6, () => Program.load({ name: 'no_r0', type: 'SOCKET_FILTER', instructions: encodeInsns([asm.exit()]), license: 'GPL' }));
    expect(error).toBeInstanceOf(VerifierError);
    expect((error as VerifierError).code).toBe('EACCES');
    expect((error as VerifierError).log).toMatch(/R0 !read_ok/);
  });
});
