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
 */
import type { Btf } from './btf.ts';
import { BtfError } from './errors.ts';
import { rawView, type RawBtfView } from './dump-c-raw.ts';

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
  const d = new CDumper(rawView(btf));
  return d.run(opts);
}

/** Internal: dump through a given view (tests compare both view paths). */
export function dumpCView(view: RawBtfView, opts: DumpCOptions = {}): string {
  return new CDumper(view).run(opts);
}

// Kind numbers (include/uapi/linux/btf.h).
const INT = 1;
const PTR = 2;
const ARRAY = 3;
const STRUCT = 4;
const UNION = 5;
const ENUM = 6;
const FWD = 7;
const TYPEDEF = 8;
const VOLATILE = 9;
const CONST = 10;
const RESTRICT = 11;
const FUNC = 12;
const FUNC_PROTO = 13;
const VAR = 14;
const DATASEC = 15;
const FLOAT = 16;
const DECL_TAG = 17;
const TYPE_TAG = 18;
const ENUM64 = 19;

// Order state.
const ORDERING = 1;
const ORDERED = 2;
// Emit state.
const EMITTING = 1;
const EMITTED = 2;

/** Indentation: at most 12 tabs, like bpftool. */
const TABS = ['', '\t', '\t\t', '\t\t\t', '\t\t\t\t', '\t\t\t\t\t', '\t\t\t\t\t\t', '\t\t\t\t\t\t\t', '\t\t\t\t\t\t\t\t', '\t\t\t\t\t\t\t\t\t', '\t\t\t\t\t\t\t\t\t\t', '\t\t\t\t\t\t\t\t\t\t\t', '\t\t\t\t\t\t\t\t\t\t\t\t'];
const pfx = (lvl: number): string => TABS[lvl > 12 ? 12 : lvl]!;

/** GCC's internal ARM SIMD polynomial types, aliased to standard ones. */
const MISSING_ALIASES: Record<string, string> = {
  __Poly8_t: 'unsigned char',
  __Poly16_t: 'unsigned short',
  __Poly64_t: 'unsigned long long',
  __Poly128_t: 'unsigned __int128',
};

const LONG_ALIASES = new Set([
  'long', 'long int', 'int long', 'unsigned long', 'long unsigned', 'unsigned long int', 'unsigned int long',
  'long unsigned int', 'long int unsigned', 'int unsigned long', 'int long unsigned',
]);

/** Recursion bound for hostile BTF (chains C cannot have anyway). */
const MAX_DEPTH = 2000;
/** Type-chain bound of btf__resolve_size. */
const MAX_RESOLVE_DEPTH = 32;

class CDumper {
  private readonly w: Uint32Array;
  private readonly toff: Uint32Array;
  private readonly n: number;
  private readonly view: RawBtfView;
  private readonly kinds: Uint8Array;
  private readonly orderState: Uint8Array;
  private readonly emitState: Uint8Array;
  private readonly fwdEmitted: Uint8Array;
  private readonly referenced: Uint8Array;
  /** Resolved (deduplicated) names; undefined until first needed. */
  private readonly names: (string | undefined)[];
  private readonly typeDups = new Map<string, number>();
  private readonly identDups = new Map<string, number>();
  /** Alignment memo: -1 = not computed. */
  private readonly alignMemo: Int32Array;
  private readonly ptrSz: number;
  /** Scheduled definitions of the current root. */
  private queue: number[] = [];
  /** Declaration chain stack, shared by nested declarations. */
  private stack = new Int32Array(256);
  private sp = 0;
  /** The current declaration's view of the stack: [vbase, vbase + vcnt). */
  private vbase = 0;
  private vcnt = 0;
  /** Output. */
  private out = '';
  private chunks: string[] = [];
  private depth = 0;

  constructor(view: RawBtfView) {
    this.view = view;
    this.w = view.words;
    this.toff = view.toff;
    const n = (this.n = view.n);
    this.kinds = new Uint8Array(n);
    this.orderState = new Uint8Array(n);
    this.emitState = new Uint8Array(n);
    this.fwdEmitted = new Uint8Array(n);
    this.referenced = new Uint8Array(n);
    this.names = new Array<string | undefined>(n);
    this.alignMemo = new Int32Array(n).fill(-1);
    this.scan();
    // void is always defined.
    if (n > 0) {
      this.orderState[0] = ORDERED;
      this.emitState[0] = EMITTED;
    }
    this.ptrSz = this.pointerSize();
  }

  run(opts: DumpCOptions): string {
    const guard = opts.guard ?? '__VMLINUX_H__';
    const header = opts.header ?? true;
    if (header) this.chunks.push(headerText(guard));
    if (opts.roots) {
      for (const id of opts.roots) {
        if (!(Number.isInteger(id) && id >= 0 && id < this.n)) {
          throw new BtfError('BTF_NOT_FOUND', `no type id ${id} (valid: 0..${this.n - 1})`, { typeId: id });
        }
        this.dumpType(id);
      }
    } else {
      for (let id = 1; id < this.n; id++) this.dumpType(id);
    }
    if (header) this.chunks.push(footerText(guard));
    return this.chunks.join('');
  }

  // ------------------------------------------------------------ raw access

  private info(id: number): number {
    return this.w[this.toff[id]! + 1]!;
  }
  private vlen(id: number): number {
    return this.w[this.toff[id]! + 1]! & 0xffff;
  }
  private kflag(id: number): boolean {
    return this.w[this.toff[id]! + 1]! >>> 31 === 1;
  }
  /** size or type (third word). */
  private st(id: number): number {
    return this.w[this.toff[id]! + 2]!;
  }
  private nameOff(id: number): number {
    return id === 0 ? 0 : this.w[this.toff[id]!]!;
  }
  /** The raw name of a type ('' when anonymous). */
  private rawName(id: number): string {
    const off = this.nameOff(id);
    return off === 0 ? '' : this.view.str(off);
  }

  /** One pass: kinds, referenced flags, reference bounds. */
  private scan(): void {
    const { w, toff, n, kinds, referenced } = this;
    const check = (from: number, to: number): number => {
      if (to >= n) {
        throw new BtfError('BTF_MALFORMED', `type ${from} references type ${to}, beyond the last type ${n - 1}`, { typeId: from });
      }
      return to;
    };
    for (let id = 1; id < n; id++) {
      const o = toff[id]!;
      const info = w[o + 1]!;
      const kind = (info >>> 24) & 0x1f;
      kinds[id] = kind;
      const vlen = info & 0xffff;
      switch (kind) {
        case PTR:
        case TYPEDEF:
        case VOLATILE:
        case CONST:
        case RESTRICT:
        case FUNC:
        case VAR:
        case DECL_TAG:
        case TYPE_TAG:
          referenced[check(id, w[o + 2]!)] = 1;
          break;
        case ARRAY:
          referenced[check(id, w[o + 4]!)] = 1;
          referenced[check(id, w[o + 3]!)] = 1;
          break;
        case STRUCT:
        case UNION:
          for (let i = 0, q = o + 3; i < vlen; i++, q += 3) referenced[check(id, w[q + 1]!)] = 1;
          break;
        case FUNC_PROTO:
          check(id, w[o + 2]!);
          for (let i = 0, q = o + 3; i < vlen; i++, q += 2) referenced[check(id, w[q + 1]!)] = 1;
          break;
        case DATASEC:
          for (let i = 0, q = o + 3; i < vlen; i++, q += 3) referenced[check(id, w[q]!)] = 1;
          break;
        default:
          break;
      }
    }
  }

  /** Size of `long` when the BTF has such an int (first by id), else 8. */
  private pointerSize(): number {
    for (let id = 1; id < this.n; id++) {
      if (this.kinds[id] !== INT) continue;
      const size = this.st(id);
      if (size !== 4 && size !== 8) continue;
      if (LONG_ALIASES.has(this.rawName(id))) return size;
    }
    return 8;
  }

  // ------------------------------------------------------------ names

  private resolveName(id: number, dups: Map<string, number>): string {
    const cached = this.names[id];
    if (cached !== undefined) return cached;
    const name = this.rawName(id);
    let res = name;
    const kind = this.kinds[id]!;
    if (name !== '' && kind !== FWD && !(kind === ENUM && this.vlen(id) === 0)) {
      const c = (dups.get(name) ?? 0) + 1;
      dups.set(name, c);
      if (c > 1) res = `${name}___${c}`;
    }
    this.names[id] = res;
    return res;
  }
  /** struct/union/enum/fwd tag name, deduplicated. */
  private typeName(id: number): string {
    return this.resolveName(id, this.typeDups);
  }
  /** typedef name, deduplicated. */
  private identName(id: number): string {
    return this.resolveName(id, this.identDups);
  }

  // ------------------------------------------------------------ layout

  /** libbpf's btf__align_of: 0 for types without alignment. */
  private alignOf(id: number): number {
    const m = this.alignMemo[id]!;
    if (m >= 0) return m;
    if (++this.depth > MAX_DEPTH) throw new BtfError('BTF_LOOP', `type ${id}: nested too deep`, { typeId: id });
    const a = this.computeAlign(id);
    this.depth--;
    this.alignMemo[id] = a;
    return a;
  }

  private computeAlign(id: number): number {
    switch (this.kinds[id]) {
      case INT:
      case ENUM:
      case ENUM64:
      case FLOAT: {
        const size = this.st(id);
        return size < this.ptrSz ? size : this.ptrSz;
      }
      case PTR:
        return this.ptrSz;
      case TYPEDEF:
      case VOLATILE:
      case CONST:
      case RESTRICT:
      case TYPE_TAG:
        return this.alignOf(this.st(id));
      case ARRAY:
        return this.alignOf(this.w[this.toff[id]! + 3]!);
      case STRUCT:
      case UNION: {
        const w = this.w;
        const o = this.toff[id]!;
        const vlen = w[o + 1]! & 0xffff;
        const kflag = w[o + 1]! >>> 31 === 1;
        let max = 1;
        for (let i = 0, q = o + 3; i < vlen; i++, q += 3) {
          const a = this.alignOf(w[q + 1]!);
          if (a <= 0) return a;
          if (a > max) max = a;
          const off = w[q + 2]!;
          const bitSz = kflag ? off >>> 24 : 0;
          if (bitSz === 0 && off % (8 * a) !== 0) return 1;
        }
        if (w[o + 2]! % max !== 0) return 1;
        return max;
      }
      default:
        return 0;
    }
  }

  /** libbpf's btf__resolve_size, with errors as -1. */
  private resolveSize(id: number): number {
    let nelems = 1;
    for (let i = 0; i < MAX_RESOLVE_DEPTH && id !== 0; i++) {
      switch (this.kinds[id]) {
        case INT:
        case STRUCT:
        case UNION:
        case ENUM:
        case ENUM64:
        case DATASEC:
        case FLOAT: {
          const size = this.st(id);
          if (nelems && size > Math.floor(0xffffffff / nelems)) return -1;
          return nelems * size;
        }
        case PTR:
          return nelems * this.ptrSz;
        case TYPEDEF:
        case VOLATILE:
        case CONST:
        case RESTRICT:
        case VAR:
        case DECL_TAG:
        case TYPE_TAG:
          id = this.st(id);
          break;
        case ARRAY: {
          const o = this.toff[id]!;
          const ne = this.w[o + 5]!;
          if (nelems && ne > Math.floor(0xffffffff / nelems)) return -1;
          nelems *= ne;
          id = this.w[o + 3]!;
          break;
        }
        default:
          return -1;
      }
    }
    return -1;
  }

  /** Does the struct's layout show it was packed? */
  private isPacked(id: number): boolean {
    const w = this.w;
    const o = this.toff[id]!;
    const vlen = w[o + 1]! & 0xffff;
    const kflag = w[o + 1]! >>> 31 === 1;
    let max = 1;
    for (let i = 0, q = o + 3; i < vlen; i++, q += 3) {
      const a = this.alignOf(w[q + 1]!);
      const off = w[q + 2]!;
      const bitSz = kflag ? off >>> 24 : 0;
      if (a && bitSz === 0 && off % (8 * a) !== 0) return true;
      if (a > max) max = a;
    }
    return w[o + 2]! % max !== 0;
  }

  // ------------------------------------------------------------ ordering

  private dumpType(id: number): void {
    this.queue.length = 0;
    this.depth = 0;
    this.orderType(id, false);
    const q = this.queue;
    for (let i = 0; i < q.length; i++) {
      this.out = '';
      this.emitType(q[i]!, 0);
      if (this.out) this.chunks.push(this.out);
    }
    this.out = '';
  }

  /**
   * Schedule the definitions `id` needs by value, then `id` if it is a named
   * definition. Returns 1 when `id` is (or leads to) a full definition that is
   * now ordered ("strong"), 0 otherwise.
   */
  private orderType(id: number, throughPtr: boolean): number {
    const os = this.orderState;
    if (os[id] === ORDERED) return 1;
    const kind = this.kinds[id]!;
    if (os[id] === ORDERING) {
      if ((kind === STRUCT || kind === UNION) && throughPtr && this.nameOff(id) !== 0) return 0;
      throw new BtfError('BTF_LOOP', `unsatisfiable type cycle, id:[${id}]`, { typeId: id });
    }
    if (++this.depth > MAX_DEPTH) throw new BtfError('BTF_LOOP', `type ${id}: nested too deep`, { typeId: id });
    let ret: number;
    switch (kind) {
      case INT:
      case FLOAT:
        os[id] = ORDERED;
        ret = 0;
        break;
      case PTR:
        ret = this.orderType(this.st(id), true);
        os[id] = ORDERED;
        break;
      case ARRAY:
        ret = this.orderType(this.w[this.toff[id]! + 3]!, false);
        break;
      case STRUCT:
      case UNION: {
        const named = this.nameOff(id) !== 0;
        if (throughPtr && named) {
          ret = 0;
          break;
        }
        os[id] = ORDERING;
        const w = this.w;
        const o = this.toff[id]!;
        const vlen = w[o + 1]! & 0xffff;
        for (let i = 0, q = o + 3; i < vlen; i++, q += 3) this.orderType(w[q + 1]!, false);
        if (named) this.queue.push(id);
        os[id] = ORDERED;
        ret = 1;
        break;
      }
      case ENUM:
      case ENUM64:
      case FWD:
        // Named, or anonymous but not used by anything: a top-level definition.
        if (this.nameOff(id) !== 0 || !this.referenced[id]) this.queue.push(id);
        os[id] = ORDERED;
        ret = 1;
        break;
      case TYPEDEF: {
        const strong = this.orderType(this.st(id), throughPtr);
        if (throughPtr && !strong) {
          ret = 0;
          break;
        }
        this.queue.push(id);
        os[id] = ORDERED;
        ret = 1;
        break;
      }
      case VOLATILE:
      case CONST:
      case RESTRICT:
      case TYPE_TAG:
        ret = this.orderType(this.st(id), throughPtr);
        break;
      case FUNC_PROTO: {
        const w = this.w;
        const o = this.toff[id]!;
        let strong = this.orderType(w[o + 2]!, throughPtr) > 0;
        const vlen = w[o + 1]! & 0xffff;
        for (let i = 0, q = o + 3; i < vlen; i++, q += 2) {
          if (this.orderType(w[q + 1]!, throughPtr) > 0) strong = true;
        }
        ret = strong ? 1 : 0;
        break;
      }
      default:
        // func, var, datasec, decl_tag: not part of the C header.
        os[id] = ORDERED;
        ret = 0;
        break;
    }
    this.depth--;
    return ret;
  }

  // ------------------------------------------------------------ emission

  /**
   * Write what `id` needs (forward declarations, early typedefs) and, at top
   * level (contId 0), its definition. `contId` is the named struct/typedef
   * whose definition is being written.
   */
  private emitType(id: number, contId: number): void {
    const es = this.emitState;
    if (es[id] === EMITTED) return;
    const kind = this.kinds[id]!;
    if (es[id] === EMITTING) {
      if (this.fwdEmitted[id]) return;
      if (kind === STRUCT || kind === UNION) {
        if (id === contId) return; // a struct pointing to itself
        if (this.nameOff(id) === 0) return; // anonymous loop: nothing C can say
        this.emitStructFwd(id);
        this.out += ';\n\n';
        this.fwdEmitted[id] = 1;
      } else if (kind === TYPEDEF) {
        // Written early for uses through pointers (the definition doubles as declaration).
        if (!this.isBuiltinVaList(id)) {
          this.emitTypedefDef(id, 0);
          this.out += ';\n\n';
        }
        this.fwdEmitted[id] = 1;
      }
      return;
    }
    if (++this.depth > MAX_DEPTH) throw new BtfError('BTF_LOOP', `type ${id}: nested too deep`, { typeId: id });
    switch (kind) {
      case INT: {
        const name = this.typeName(id);
        const alias = MISSING_ALIASES[name];
        if (alias !== undefined && Object.hasOwn(MISSING_ALIASES, name)) this.out += `typedef ${alias} ${name};\n\n`;
        es[id] = EMITTED;
        break;
      }
      case ENUM:
      case ENUM64:
        if (contId === 0) {
          this.emitEnumDef(id, 0);
          this.out += ';\n\n';
        }
        es[id] = EMITTED;
        break;
      case PTR:
      case VOLATILE:
      case CONST:
      case RESTRICT:
      case TYPE_TAG:
        this.emitType(this.st(id), contId);
        break;
      case ARRAY:
        this.emitType(this.w[this.toff[id]! + 3]!, contId);
        break;
      case FWD:
        this.emitFwdDef(id);
        this.out += ';\n\n';
        es[id] = EMITTED;
        break;
      case TYPEDEF:
        es[id] = EMITTING;
        this.emitType(this.st(id), id);
        if (!this.fwdEmitted[id] && !this.isBuiltinVaList(id)) {
          this.emitTypedefDef(id, 0);
          this.out += ';\n\n';
        }
        es[id] = EMITTED;
        break;
      case STRUCT:
      case UNION: {
        es[id] = EMITTING;
        const named = this.nameOff(id) !== 0;
        if (contId === 0 || !named) {
          // The body will be written: its members' types need declaring first.
          const inner = named ? id : contId;
          const w = this.w;
          const o = this.toff[id]!;
          const vlen = w[o + 1]! & 0xffff;
          for (let i = 0, q = o + 3; i < vlen; i++, q += 3) this.emitType(w[q + 1]!, inner);
        } else if (!this.fwdEmitted[id] && id !== contId) {
          this.emitStructFwd(id);
          this.out += ';\n\n';
          this.fwdEmitted[id] = 1;
        }
        if (contId === 0) {
          this.emitStructDef(id, 0);
          this.out += ';\n\n';
          es[id] = EMITTED;
        } else {
          es[id] = 0;
        }
        break;
      }
      case FUNC_PROTO: {
        const w = this.w;
        const o = this.toff[id]!;
        this.emitType(w[o + 2]!, contId);
        const vlen = w[o + 1]! & 0xffff;
        for (let i = 0, q = o + 3; i < vlen; i++, q += 2) this.emitType(w[q + 1]!, contId);
        break;
      }
      default:
        break;
    }
    this.depth--;
  }

  private isBuiltinVaList(id: number): boolean {
    return this.nameOff(id) !== 0 && this.rawName(id) === '__builtin_va_list';
  }

  private emitStructFwd(id: number): void {
    const name = this.typeName(id);
    this.out += (this.kinds[id] === STRUCT ? 'struct' : 'union') + (this.nameOff(id) !== 0 ? ' ' : '') + name;
  }

  private emitFwdDef(id: number): void {
    this.out += (this.kflag(id) ? 'union ' : 'struct ') + this.typeName(id);
  }

  private emitTypedefDef(id: number, lvl: number): void {
    const name = this.identName(id);
    if (this.st(id) === 0 && name === '__gnuc_va_list') {
      // Old GCC's typedef of __gnuc_va_list to void.
      this.out += 'typedef __builtin_va_list __gnuc_va_list';
      return;
    }
    this.out += 'typedef ';
    this.emitTypeDecl(this.st(id), name, lvl);
  }

  private emitEnumDef(id: number, lvl: number): void {
    const w = this.w;
    const o = this.toff[id]!;
    const info = w[o + 1]!;
    const vlen = info & 0xffff;
    const signed = info >>> 31 === 1;
    const is64 = ((info >>> 24) & 0x1f) === ENUM64;
    const name = this.typeName(id);
    let s = w[o]! !== 0 ? 'enum ' + name : 'enum';
    if (vlen === 0) {
      this.out += s;
      return;
    }
    s += ' {';
    const ind = pfx(lvl + 1);
    const str = this.view.str;
    const dups = this.identDups;
    for (let i = 0, q = o + 3; i < vlen; i++, q += is64 ? 3 : 2) {
      const vname = str(w[q]!);
      const c = (dups.get(vname) ?? 0) + 1;
      dups.set(vname, c);
      let val: string;
      if (is64) {
        const lo = w[q + 1]!;
        const hi = w[q + 2]!;
        const u = hi === 0 ? String(lo) : ((BigInt(hi) << 32n) | BigInt(lo)).toString();
        val = signed ? (hi === 0 && lo < 0x80000000 ? u : BigInt.asIntN(64, BigInt(u)).toString()) + 'LL' : u + 'ULL';
      } else {
        val = signed ? String(w[q + 1]! | 0) : String(w[q + 1]!);
      }
      s += c > 1 ? `\n${ind}${vname}___${c} = ${val},` : `\n${ind}${vname} = ${val},`;
    }
    s += '\n' + pfx(lvl) + '}';
    this.out += s;
  }

  private emitStructDef(id: number, lvl: number): void {
    const w = this.w;
    const o = this.toff[id]!;
    const info = w[o + 1]!;
    const isStruct = ((info >>> 24) & 0x1f) === STRUCT;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const size = w[o + 2]!;
    const align = this.alignOf(id);
    const packed = isStruct ? this.isPacked(id) : false;
    const name = this.typeName(id);
    this.out += (isStruct ? 'struct' : 'union') + (w[o]! !== 0 ? ' ' : '') + name + ' {';
    const ind = pfx(lvl + 1);
    const str = this.view.str;
    let off = 0;
    let prevBitfield = false;
    for (let i = 0, q = o + 3; i < vlen; i++, q += 3) {
      const mtype = w[q + 1]!;
      const raw = w[q + 2]!;
      const mOff = kflag ? raw & 0xffffff : raw;
      const bitSz = kflag ? raw >>> 24 : 0;
      const mAlign = packed ? 1 : this.alignOf(mtype);
      this.emitBitPadding(off, mOff, mAlign, prevBitfield && bitSz !== 0, lvl + 1);
      this.out += '\n' + ind;
      const mn = w[q]!;
      this.emitTypeDecl(mtype, mn === 0 ? '' : str(mn), lvl + 1);
      if (bitSz) {
        this.out += ': ' + bitSz + ';';
        off = mOff + bitSz;
        prevBitfield = true;
      } else {
        const sz = this.resolveSize(mtype);
        off = mOff + (sz > 0 ? sz : 0) * 8;
        prevBitfield = false;
        this.out += ';';
      }
    }
    if (isStruct) this.emitBitPadding(off, size * 8, align, false, lvl + 1);
    if (vlen || size) this.out += '\n' + pfx(lvl) + '}';
    else this.out += '}';
    if (packed) this.out += ' __attribute__((packed))';
  }

  /**
   * Explicit padding between `cur` and `next` (bit offsets) where natural
   * alignment would not put the next member at `next`: `long: 0;` marks to
   * force alignment, `<type>: <bits>;` anonymous bitfields to fill.
   */
  private emitBitPadding(cur: number, next: number, nextAlign: number, inBitfield: boolean, lvl: number): void {
    if (cur >= next) return;
    const longBits = this.ptrSz * 8;
    let padBits = 0;
    let padType = '';
    let newOff = 0;
    for (let i = 0; i < 4; i++) {
      padBits = i === 0 ? longBits : i === 1 ? 32 : i === 2 ? 16 : 8;
      padType = i === 0 ? 'long' : i === 1 ? 'int' : i === 2 ? 'short' : 'char';
      newOff = Math.ceil(cur / padBits) * padBits;
      if (newOff <= next) break;
    }
    const ind = pfx(lvl);
    if (newOff > cur && newOff <= next) {
      if (
        inBitfield ||
        (newOff === next && Math.ceil(cur / (nextAlign * 8)) * nextAlign * 8 !== newOff) ||
        (newOff !== next && next - newOff <= newOff - cur)
      ) {
        this.out += `\n${ind}${padType}: ${inBitfield ? newOff - cur : 0};`;
      }
      cur = newOff;
    }
    while (cur !== next) {
      const bits = Math.min(next - cur, padBits);
      if (bits === padBits) {
        this.out += `\n${ind}${padType}: ${padBits};`;
        cur += bits;
        continue;
      }
      // The remainder: the smallest type that holds it.
      const t = bits <= 8 ? 'char' : bits <= 16 ? 'short' : bits <= 32 ? 'int' : 'long';
      this.out += `\n${ind}${t}: ${bits};`;
      cur += bits;
    }
  }

  // ------------------------------------------------------------ declarations

  private push(id: number): void {
    if (this.sp === this.stack.length) {
      const s = new Int32Array(this.stack.length * 2);
      s.set(this.stack);
      this.stack = s;
    }
    this.stack[this.sp++] = id;
  }

  /** `<type> <fname>` with C's inside-out declarator syntax. */
  private emitTypeDecl(id: number, fname: string, lvl: number): void {
    const start = this.sp;
    for (let guard = 0; ; guard++) {
      if (guard > MAX_DEPTH) throw new BtfError('BTF_LOOP', `type ${id}: declaration chain too long or cyclic`, { typeId: id });
      this.push(id);
      if (id === 0) break;
      const k = this.kinds[id]!;
      if (k === PTR || k === VOLATILE || k === CONST || k === RESTRICT || k === FUNC_PROTO || k === TYPE_TAG) {
        id = this.st(id);
      } else if (k === ARRAY) {
        id = this.w[this.toff[id]! + 3]!;
      } else {
        break;
      }
    }
    const savedBase = this.vbase;
    const savedCnt = this.vcnt;
    this.vbase = start;
    this.vcnt = this.sp - start;
    if (++this.depth > MAX_DEPTH) throw new BtfError('BTF_LOOP', `type ${id}: nested too deep`, { typeId: id });
    this.emitTypeChain(fname, lvl);
    this.depth--;
    this.vbase = savedBase;
    this.vcnt = savedCnt;
    this.sp = start;
  }

  /** The kind of the innermost-but-one... top of the current view, or -1 when empty. */
  private topKind(): number {
    return this.vcnt ? this.kinds[this.stack[this.vbase + this.vcnt - 1]!]! : -1;
  }

  /** Write and pop the const/volatile/restrict directly on top of the view. */
  private emitMods(): void {
    while (this.vcnt) {
      const id = this.stack[this.vbase + this.vcnt - 1]!;
      const k = id === 0 ? 0 : this.kinds[id]!;
      if (k === VOLATILE) this.out += 'volatile ';
      else if (k === CONST) this.out += 'const ';
      else if (k === RESTRICT) this.out += 'restrict ';
      else return;
      this.vcnt--;
    }
  }

  /** Pop (without writing) the qualifiers and type tags on top of the view. */
  private dropMods(): void {
    while (this.vcnt) {
      const id = this.stack[this.vbase + this.vcnt - 1]!;
      const k = id === 0 ? 0 : this.kinds[id]!;
      if (k !== VOLATILE && k !== CONST && k !== RESTRICT && k !== TYPE_TAG) return;
      this.vcnt--;
    }
  }

  private emitName(fname: string, lastWasPtr: boolean): void {
    if (fname !== '') this.out += lastWasPtr ? fname : ' ' + fname;
  }

  private emitTypeChain(fname: string, lvl: number): void {
    let lastWasPtr = true;
    while (this.vcnt) {
      const id = this.stack[this.vbase + --this.vcnt]!;
      if (id === 0) {
        this.emitMods();
        this.out += 'void';
        lastWasPtr = false;
        continue;
      }
      const kind = this.kinds[id]!;
      switch (kind) {
        case INT:
        case FLOAT:
          this.emitMods();
          this.out += this.rawName(id);
          break;
        case STRUCT:
        case UNION:
          this.emitMods();
          if (this.nameOff(id) === 0) this.emitStructDef(id, lvl);
          else this.emitStructFwd(id);
          break;
        case ENUM:
        case ENUM64:
          this.emitMods();
          if (this.nameOff(id) === 0) this.emitEnumDef(id, lvl);
          else this.out += 'enum ' + this.typeName(id);
          break;
        case FWD:
          this.emitMods();
          this.emitFwdDef(id);
          break;
        case TYPEDEF:
          this.emitMods();
          this.out += this.identName(id);
          break;
        case PTR:
          this.out += lastWasPtr ? '*' : ' *';
          break;
        case VOLATILE:
          this.out += ' volatile';
          break;
        case CONST:
          this.out += ' const';
          break;
        case RESTRICT:
          this.out += ' restrict';
          break;
        case TYPE_TAG:
          this.emitMods();
          this.out += ` __attribute__((btf_type_tag("${this.rawName(id)}")))`;
          break;
        case ARRAY: {
          const nelems = this.w[this.toff[id]! + 5]!;
          this.dropMods();
          if (this.vcnt === 0) {
            this.emitName(fname, lastWasPtr);
            this.out += '[' + nelems + ']';
            return;
          }
          const multidim = this.topKind() === ARRAY;
          if (fname !== '' && !lastWasPtr) this.out += ' ';
          if (!multidim) this.out += '(';
          this.emitTypeChain(fname, lvl);
          if (!multidim) this.out += ')';
          this.out += '[' + nelems + ']';
          return;
        }
        case FUNC_PROTO: {
          this.dropMods();
          if (this.vcnt) {
            this.out += ' (';
            this.emitTypeChain(fname, lvl);
            this.out += ')';
          } else {
            this.emitName(fname, lastWasPtr);
          }
          this.out += '(';
          const w = this.w;
          const o = this.toff[id]!;
          const vlen = w[o + 1]! & 0xffff;
          if (vlen === 0 || (vlen === 1 && w[o + 4] === 0)) {
            this.out += 'void)';
            return;
          }
          const str = this.view.str;
          for (let i = 0, q = o + 3; i < vlen; i++, q += 2) {
            if (i > 0) this.out += ', ';
            const ptype = w[q + 1]!;
            if (i === vlen - 1 && ptype === 0) {
              this.out += '...';
              break;
            }
            const pn = w[q]!;
            this.emitTypeDecl(ptype, pn === 0 ? '' : str(pn), lvl);
          }
          this.out += ')';
          return;
        }
        default:
          // Not a type C declarations are made of (func, var...): nothing to write.
          return;
      }
      lastWasPtr = kind === PTR;
    }
    this.emitName(fname, lastWasPtr);
  }
}
