/**
 * BTF as a C header: `bpftool btf dump file FILE format c` (vmlinux.h).
 *
 * The output is meant to be byte-identical to bpftool 7.1's (libbpf 1.1's
 * BTF-to-C dumper): same type order, forward declarations, padding, packed
 * attributes, `___N` suffixes for duplicate names, and the same header guard
 * and `preserve_access_index` pragma around the types.
 *
 * How it works, in terms of C rather than of any particular implementation:
 *
 * - Ordering. A type can be defined only after the types it needs by value:
 *   a struct needs the definitions of its embedded (non-pointer) members; a
 *   typedef needs what its target needs. Pointers only need a forward
 *   declaration (`struct foo;`), except to anonymous structs/unions, which
 *   can only be written inline. For each type, in id order (or for each root
 *   the caller names), a depth-first walk over those "by value" edges
 *   schedules the named definitions it reaches, dependencies first. Named
 *   structs and unions met only through a pointer are not scheduled by that
 *   walk (their own turn comes later). A cycle of by-value edges cannot be
 *   written in C and is an error (BTF_LOOP); a cycle through a pointer to a
 *   named struct is fine.
 * - Emission. Scheduled definitions are written in order. Before a struct's
 *   body, every type its members mention is visited: a named struct/union
 *   not yet written gets a forward declaration, enums met by value are
 *   written inline when anonymous, typedefs whose definition is needed early
 *   (through a pointer, while the typedef is itself being written) are
 *   written then.
 * - Declarations are written inside-out from the chain of pointer, array,
 *   function-prototype and qualifier types: `int (*(*f)[4])(void)`.
 * - Names. struct/union/enum tags share one namespace, typedefs and
 *   enumerators another. The second type of a namespace to be written with a
 *   given name becomes `name___2`, the third `name___3`, and so on.
 *
 * Like bpftool 7.1: split BTF (module BTF on vmlinux) is dumped whole, base
 * types first; functions, variables, datasecs and decl tags are not written;
 * type tags are written as `__attribute__((btf_type_tag("...")))` where
 * libbpf 1.1 puts them (quirks included: a const under a type tag comes out
 * as `intconst  __attribute__...`); no `__attribute__((aligned))` and no
 * `mode(byte/word)` on odd-sized enums (libbpf 1.1 writes neither). A
 * member's bitfield width comes from kind_flag structs only, as in libbpf.
 *
 * Files: ./dump-c-engine.ts (the dumper), ./dump-c-raw.ts (word-level view
 * of the BTF), ./dump-c-primer.ts (JIT warm-up for big dumps).
 */
import type { Btf } from './btf.ts';
import { BtfError } from './errors.ts';
import { rawView, type RawBtfView } from './dump-c-raw.ts';
import { runDump, runDumpBytes, type EngineOptions } from './dump-c-engine.ts';
import { primerView } from './dump-c-primer.ts';

export interface DumpCOptions {
  /**
   * Wrap the types in the `#ifndef __VMLINUX_H__` guard and the
   * `preserve_access_index` pragma, as bpftool does. Default true.
   */
  header?: boolean;
  /**
   * Dump only these types (by id), each with everything it needs, in this
   * order. Default: every type, in id order (for split BTF, the base's too,
   * as bpftool does).
   */
  roots?: readonly number[];
  /** Guard macro name; default `__VMLINUX_H__`. */
  guard?: string;
}

/** Dumps of at least this many types are preceded by the primer (once per process). */
const PRIME_MIN_TYPES = 20_000;
const PRIME_RUNS = 3;
let primed = false;

/** Header and footer bpftool writes around the types. */
function headerText(guard: string): string {
  return (
    `#ifndef ${guard}\n#define ${guard}\n\n` +
    '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n' +
    '#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n' +
    '#endif\n\n'
  );
}
function footerText(guard: string): string {
  return '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n' + `#endif /* ${guard} */\n`;
}

/**
 * The BTF as a C header (vmlinux.h style), like
 * `bpftool btf dump file FILE format c`.
 *
 * ```ts
 * const { btf } = loadBtfFile('/sys/kernel/btf/vmlinux');
 * writeFileSync('vmlinux.h', dumpC(btf));
 * dumpC(btf, { roots: [btf.getByName('task_struct', 'struct').id], header: false });
 * ```
 * Throws BtfError BTF_LOOP for type cycles C cannot express, BTF_NOT_FOUND
 * for a root id out of range, BTF_MALFORMED for references to missing types.
 */
export function dumpC(btf: Btf, opts: DumpCOptions = {}): string {
  return dumpCView(rawView(btf), opts);
}

/**
 * Internal: {@link dumpC}'s text as UTF-8 bytes, as the dumper builds it (the
 * CLI writes a vmlinux.h of megabytes without a round trip through a string).
 */
export function dumpCBytes(btf: Btf, opts: DumpCOptions = {}): Uint8Array {
  return dumpCWith(rawView(btf), opts, runDumpBytes);
}

/** Internal: dump through a given view (tests compare both view paths). */
export function dumpCView(view: RawBtfView, opts: DumpCOptions = {}): string {
  return dumpCWith(view, opts, runDump);
}

function dumpCWith<T>(view: RawBtfView, opts: DumpCOptions, run: (view: RawBtfView, opts: EngineOptions) => T): T {
  const guard = opts.guard ?? '__VMLINUX_H__';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(guard)) throw new BtfError('BTF_INVALID_TYPE', `guard '${guard}' is not a C identifier`);
  const header = opts.header ?? true;
  if (view.n >= PRIME_MIN_TYPES && !primed) {
    // See ./dump-c-primer.ts: once per process, before the first big dump.
    primed = true;
    const primer = primerView();
    for (let i = 0; i < PRIME_RUNS; i++) runDump(primer, { header: '', footer: '', roots: undefined });
  }
  return run(view, {
    header: header ? headerText(guard) : '',
    footer: header ? footerText(guard) : '',
    roots: opts.roots,
  });
}
