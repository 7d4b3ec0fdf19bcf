/**
 * Building and editing BTF in memory, then writing it back as bytes.
 *
 * ```ts
 * const b = new BtfBuilder();
 * const int = b.add({ kind: 'int', name: 'int', size: 4, encoding: 'signed', bitOffset: 0, bits: 32 });
 * b.add({ kind: 'ptr', name: '', type: int });
 * const bytes = b.marshal();            // BTF blob, host byte order
 *
 * const edit = BtfBuilder.from(btf);     // a mutable copy of parsed BTF
 * edit.replace(id, { kind: 'int', name: '', size: 1, encoding: 'none', bitOffset: 0, bits: 8 });
 * ```
 * A builder made `from` a parsed Btf keeps its string section verbatim and
 * appends new strings (deduplicated), so marshalling an unmodified copy gives
 * back the original bytes (for BTF laid out header, types, strings).
 */
import { Btf } from './btf.ts';
import { BtfError } from './errors.ts';
import { marshalTypes, type MarshalOptions } from './marshal.ts';
import { StringTable } from './strings.ts';
import type { BtfType, BtfTypeInput } from './types.ts';

type Stored = BtfTypeInput | Exclude<BtfType, { kind: 'void' }>;

export class BtfBuilder {
  /** Base BTF of split BTF being built. */
  readonly base: Btf | undefined;
  /** Id of the first type added: 1, or the base's `length`. */
  readonly firstTypeId: number;
  readonly strings: StringTable;
  /** Byte order `marshal` uses by default (that of the source for `from`). */
  littleEndian: boolean | undefined;
  /** Header length/flags `marshal` writes by default. */
  hdrLen = 24;
  flags = 0;
  private readonly list: Stored[] = [];

  constructor(opts: { base?: Btf; strings?: StringTable } = {}) {
    this.base = opts.base;
    this.firstTypeId = opts.base ? opts.base.length : 1;
    const base = opts.base;
    this.strings =
      opts.strings ??
      (base ? new StringTable(undefined, base.stringOffset + base.strings.length, (s) => base.findString(s)) : new StringTable());
  }

  /** A mutable copy of parsed BTF (same base, byte order, header, string section). */
  static from(btf: Btf): BtfBuilder {
    const base = btf.base;
    const strings = new StringTable(btf.strings, btf.stringOffset, base ? (s) => base.findString(s) : undefined);
    const b = new BtfBuilder({ base, strings });
    b.littleEndian = btf.littleEndian;
    b.hdrLen = btf.header.hdrLen;
    b.flags = btf.header.flags;
    for (const t of btf.types({ cache: false })) b.list.push(t as Stored);
    return b;
  }

  /** Number of types in the builder (excluding void and the base's). */
  get count(): number {
    return this.list.length;
  }

  /** Total number of ids (void + base + own): valid ids are 0..length-1. */
  get length(): number {
    return this.firstTypeId + this.list.length;
  }

  /** Add a type; returns its id. The `id` field of the input, if any, is ignored. */
  add(t: BtfTypeInput): number {
    if (t.kind === ('void' as string)) throw new BtfError('BTF_INVALID_TYPE', 'void cannot be added (it is type id 0)');
    this.list.push(t);
    return this.firstTypeId + this.list.length - 1;
  }

  /** Replace the type with id `id` (one of the builder's own types). */
  replace(id: number, t: BtfTypeInput): void {
    const i = id - this.firstTypeId;
    if (!Number.isInteger(id) || i < 0 || i >= this.list.length) {
      throw new BtfError('BTF_NOT_FOUND', `no own type id ${id} (${this.firstTypeId}..${this.length - 1})`, { typeId: id });
    }
    if (t.kind === ('void' as string)) throw new BtfError('BTF_INVALID_TYPE', 'cannot replace a type with void');
    this.list[i] = t;
  }

  /** The type with this id (own types as stored, with `id` filled in; base types from the base). */
  typeById(id: number): BtfType {
    if (id === 0) return { kind: 'void', id: 0, name: '' };
    if (id < this.firstTypeId) {
      if (!this.base || id < 0) throw new BtfError('BTF_NOT_FOUND', `no type id ${id}`, { typeId: id });
      return this.base.typeById(id);
    }
    const t = this.list[id - this.firstTypeId];
    if (!t) throw new BtfError('BTF_NOT_FOUND', `no type id ${id}`, { typeId: id });
    return (t.id === id ? t : { ...t, id }) as BtfType;
  }

  /** Own types with their ids, in order. */
  *types(): IterableIterator<BtfType> {
    for (let i = 0; i < this.list.length; i++) yield this.typeById(this.firstTypeId + i);
  }

  /** The BTF blob. */
  marshal(opts: MarshalOptions = {}): Uint8Array {
    return marshalTypes(this.list, this.strings, this.firstTypeId, {
      littleEndian: opts.littleEndian ?? this.littleEndian,
      hdrLen: opts.hdrLen ?? this.hdrLen,
      flags: opts.flags ?? this.flags,
    });
  }

  /** Marshal and parse back (checks the result is well-formed). */
  build(opts: MarshalOptions = {}): Btf {
    return Btf.parse(this.marshal(opts), this.base ? { base: this.base } : {});
  }
}

/** Serialise a parsed Btf (re-encoding every type): identical bytes for unmodified input. */
export function marshalBtf(btf: Btf, opts: MarshalOptions = {}): Uint8Array {
  return BtfBuilder.from(btf).marshal(opts);
}
