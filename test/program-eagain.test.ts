/**
 * BPF_PROG_LOAD's EAGAIN: the verifier gives up when a signal is pending (a
 * sampling profiler's SIGPROF can interrupt every run). The seam injects the
 * interruptions; the loads that get through reach the real kernel.
 */
import { describe, expect } from 'vitest';
import { Program } from '../bpf/programs/program.ts';
import { VerifierError } from '../bpf/programs/verifier.ts';
import { asm, encodeInsns } from '../bpf/programs/insn.ts';
import { BpfCmd, setBpfBackend, type BpfBackend } from '../syscall/bpf.ts';
import { BpfError } from '../syscall/errors.ts';
import { ktest } from './helpers/kernel.ts';
import { thrown } from './helpers/thrown.ts';

const EAGAIN = 11;
const ret0 = () => Program.load({ name: 'ret0', type: 'SOCKET_FILTER', instructions: encodeInsns([asm.mov64Imm(0, 0), asm.exit()]), license: 'GPL' });

describe('a verifier interrupted by signals', () => {
  ktest('a few interrupted runs are retried and the program loads', () => {
    let loads = 0;
    const real: BpfBackend = setBpfBackend(undefined);
    setBpfBackend((cmd, attr, size) => (cmd === BpfCmd.PROG_LOAD && ++loads <= 3 ? -EAGAIN : real(cmd, attr, size)));
    try {
      using p = ret0();
      expect(p.info().name).toBe('ret0');
    } finally {
      setBpfBackend(real);
    }
    expect(loads).toBe(4);
  });

  ktest('interrupted on every run: a typed EAGAIN naming the cause, not a verifier rejection', () => {
    let loads = 0;
    const real: BpfBackend = setBpfBackend(undefined);
    setBpfBackend((cmd, attr, size) => (cmd === BpfCmd.PROG_LOAD ? (loads++, -EAGAIN) : real(cmd, attr, size)));
    let e: BpfError;
    try {
      e = thrown(ret0);
    } finally {
      setBpfBackend(real);
    }
    expect(e).toBeInstanceOf(BpfError);
    expect(e).not.toBeInstanceOf(VerifierError);
    expect(e).toMatchObject({ code: 'EAGAIN', command: 'BPF_PROG_LOAD', object: 'ret0' });
    expect(e.hint).toMatch(/interrupted by a pending signal.*profiler/);
    // Six tries without a log, six with one: bounded, never a loop.
    expect(loads).toBe(12);
  });

  ktest('interrupted only without a log: the run with a log gives the real verdict', () => {
    let loads = 0;
    const real: BpfBackend = setBpfBackend(undefined);
    setBpfBackend((cmd, attr, size) => (cmd === BpfCmd.PROG_LOAD && ++loads <= 6 ? -EAGAIN : real(cmd, attr, size)));
    let e: VerifierError;
    try {
      // r0 is never set: the verifier's EACCES, with its log.
      e = thrown(() => Program.load({ name: 'no_r0', type: 'SOCKET_FILTER', instructions: encodeInsns([asm.exit()]), license: 'GPL' }));
    } finally {
      setBpfBackend(real);
    }
    expect(e).toBeInstanceOf(VerifierError);
    expect(e.code).toBe('EACCES');
    expect(e.log).toMatch(/R0 !read_ok/);
  });
});
