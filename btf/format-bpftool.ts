/**
 * Values printed from a BTF type and its bytes the way bpftool's btf_dumper
 * does (`bpftool map dump`, its `formatted` JSON and its plain text), through
 * a streaming writer that lays out JSON exactly like bpftool's json_writer
 * (compact, or bpftool's "pretty" layout used for plain-text dumps).
 *
 * Pure: no kernel access. The BTF may be untrusted: every read is checked
 * against the value's bytes (BtfError BTF_MALFORMED otherwise) and the nesting
 * depth is bounded.
 */
import type { Btf } from './btf.ts';
import { BtfError } from './errors.ts';
import type { BtfInt, BtfType } from './types.ts';

/**
 * bpftool's json_writer: commas between items, `"name":` before values and, in
 * pretty mode, a newline and 4-space indent before each name and each closing
 * bracket of a non-empty container (array items stay on the line).
 */
export class BpftoolJsonWriter {
  #depth = 0;
  #sep = false;
  #parts: string[] = [];
  #size = 0;
  constructor(readonly pretty = false) {}

  #put(s: string): void {
    this.#parts.push(s);
    this.#size += s.length;
  }
  #eor(): void {
    if (this.#sep) this.#put(',');
    this.#sep = true;
  }
  #eol(): void {
    if (this.pretty) this.#put('\n' + '    '.repeat(this.#depth));
  }
  begin(c: '{' | '['): void {
    this.#eor();
    this.#put(c);
    this.#depth++;
    this.#sep = false;
  }
  end(c: '}' | ']'): void {
    this.#depth--;
    if (this.#sep) this.#eol();
    this.#put(c);
    this.#sep = true;
  }
  name(n: string): void {
    this.#eor();
    this.#eol();
    this.#sep = false;
    this.#put(quote(n) + (this.pretty ? ': ' : ':'));
  }
  /** A value printed as is (numbers, true/false/null, already-quoted text). */
  raw(s: string): void {
    this.#eor();
    this.#put(s);
  }
  string(s: string): void {
    this.raw(quote(s));
  }
  /** Bytes as bpftool's print_hex_data_json: ["0x01","0xff"]. */
  hexArray(b: Uint8Array): void {
    this.begin('[');
    for (const x of b) this.raw(`"0x${x.toString(16).padStart(2, '0')}"`);
    this.end(']');
  }
  /** Characters written so far and not yet taken. */
  get pending(): number {
    return this.#size;
  }
  /** Take what was written (for streaming it out). */
  take(): string {
    const s = this.#parts.join('');
    this.#parts = [];
    this.#size = 0;
    return s;
  }
}

/** JSON string quoting (valid JSON: bpftool's writer also escapes `'`, which JSON does not allow). */
function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    switch (ch) {
      case '\t': out += '\\t'; break;
      case '\n': out += '\\n'; break;
      case '\r': out += '\\r'; break;
      case '\f': out += '\\f'; break;
      case '\b': out += '\\b'; break;
      case '\\': out += '\\\\'; break;
      case '"': out += '\\"'; break;
      default: {
        const c = ch.codePointAt(0)!;
        out += c < 0x20 ? `\\u${c.toString(16).padStart(4, '0')}` : ch;
      }
    }
  }
  return out + '"';
}

const MAX_DEPTH = 64;

/** Options of one dump: plain text (bpftool's text mode) or JSON. */
export interface BpftoolFormatOptions {
  plain: boolean;
  /**
   * bpftool's prog_id_as_func_ptr (`struct_ops dump`): a function pointer
   * holding a value up to 2^32-1 is a program id; given the FUNC_PROTO id and
   * the value, return the string to print (undefined: print the pointer).
   */
  funcPtr?: (protoId: number, value: bigint) => string | undefined;
}

/** Print the value of BTF type `typeId` held in `bytes` (from `offset`) into `w`, as bpftool's btf_dumper_type. */
export function formatBtfValue(w: BpftoolJsonWriter, btf: Btf, typeId: number, bytes: Uint8Array, offset = 0, opts: BpftoolFormatOptions = { plain: !!w.pretty }): void {
  new Dumper(btf, bytes, opts.plain, w, opts.funcPtr).type(typeId, 0, offset, 0);
}

class Dumper {
  readonly #view: DataView;
  constructor(
    readonly btf: Btf,
    readonly bytes: Uint8Array,
    readonly plain: boolean,
    readonly w: BpftoolJsonWriter,
    readonly funcPtr?: (protoId: number, value: bigint) => string | undefined,
  ) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #need(off: number, n: number): void {
    if (off < 0 || off + n > this.bytes.byteLength) {
      throw new BtfError('BTF_TRUNCATED', `BTF type reads bytes ${off}..${off + n} of a ${this.bytes.byteLength}-byte value`);
    }
  }

  #u(off: number, n: number): bigint {
    this.#need(off, n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.bytes[off + i]!);
    return v;
  }

  #s(off: number, n: number): bigint {
    return BigInt.asIntN(n * 8, this.#u(off, n));
  }

  type(id: number, bitOffset: number, off: number, depth: number): void {
    if (depth > MAX_DEPTH) throw new BtfError('BTF_LOOP', `BTF type ${id} nests deeper than ${MAX_DEPTH} levels`);
    const t = this.btf.typeById(id);
    switch (t.kind) {
      case 'int':
        return this.int(t, bitOffset, off);
      case 'struct':
      case 'union':
        return this.struct(t, off, depth);
      case 'array':
        return this.array(t.type, t.nelems, off, depth);
      case 'enum': {
        if (t.size !== 1 && t.size !== 2 && t.size !== 4 && t.size !== 8) throw new BtfError('BTF_MALFORMED', `enum of ${t.size} bytes`);
        // bpftool reads the value signed and compares it with each (s32) enumerator.
        const v = this.#s(off, t.size);
        const hit = t.values.find((e) => BigInt(e.value | 0) === v);
        return hit ? this.w.string(hit.name) : this.w.raw(v.toString());
      }
      case 'enum64': {
        const v = this.#u(off, 8);
        const hit = t.values.find((e) => BigInt.asUintN(64, e.value) === v);
        return hit ? this.w.string(hit.name) : this.w.raw(BigInt.asIntN(64, v).toString());
      }
      case 'ptr': {
        const v = this.#u(off, 8);
        if (this.funcPtr && v <= 0xffffffffn) {
          const target = this.btf.resolve(t.type);
          const s = target.kind === 'func_proto' ? this.funcPtr(target.id, v) : undefined;
          if (s !== undefined) return this.w.string(s);
        }
        if (!this.plain) return this.w.raw(v.toString());
        return this.w.raw(v === 0n ? '(nil)' : `0x${v.toString(16)}`);
      }
      case 'void':
        return this.w.raw('(unknown)');
      case 'fwd':
        return this.w.raw('(fwd-kind-invalid)');
      case 'typedef':
      case 'volatile':
      case 'const':
      case 'restrict':
      case 'type_tag':
        return this.type(t.type, bitOffset, off, depth + 1);
      case 'var':
        this.w.begin('{');
        this.w.name(t.name);
        this.type(t.type, bitOffset, off, depth + 1);
        this.w.end('}');
        return;
      case 'datasec':
        this.w.begin('{');
        this.w.name(t.name);
        this.w.begin('[');
        for (const v of t.vars) this.type(v.type, 0, off + v.offset, depth + 1);
        this.w.end(']');
        this.w.end('}');
        return;
      case 'float': {
        // bpftool prints "(unsupported-kind" here, which breaks the JSON; the number is more useful.
        this.#need(off, t.size);
        const n = t.size === 4 ? this.#view.getFloat32(off, true) : t.size === 8 ? this.#view.getFloat64(off, true) : Number.NaN;
        return this.w.raw(Number.isFinite(n) ? String(n) : `"${n}"`);
      }
      default:
        return this.w.string(`(unsupported-kind ${t.kind})`);
    }
  }

  int(t: BtfInt, bitOffset: number, off: number): void {
    const bits = t.bits;
    if (bitOffset || t.bitOffset || bits % 8) return this.intBits(t, bitOffset, off);
    if (bits === 128) return this.hex128(this.#u(off, 16));
    switch (t.encoding) {
      case 'none':
      case 'signed':
        if (bits !== 8 && bits !== 16 && bits !== 32 && bits !== 64) return this.intBits(t, bitOffset, off);
        return this.w.raw((t.encoding === 'signed' ? this.#s(off, bits / 8) : this.#u(off, bits / 8)).toString());
      case 'char': {
        this.#need(off, 1);
        const c = this.bytes[off]!;
        if (c >= 0x20 && c < 0x7f) return this.w.raw(`"${String.fromCharCode(c)}"`);
        return this.w.raw(this.plain ? `0x${c.toString(16)}` : `"\\u00${c.toString(16).padStart(2, '0')}"`);
      }
      case 'bool':
        this.#need(off, 1);
        return this.w.raw(this.bytes[off] ? 'true' : 'false');
    }
  }

  /** An INT whose bits do not fill whole bytes (or do not start on one): printed in hex, like bpftool. */
  intBits(t: BtfInt, bitOffset: number, off: number): void {
    const total = bitOffset + t.bitOffset;
    this.bitfield(t.bits, total & 7, off + (total >> 3));
  }

  bitfield(nbits: number, bitOffset: number, off: number): void {
    if (nbits > 128) throw new BtfError('BTF_MALFORMED', `bitfield of ${nbits} bits`);
    const n = Math.ceil((bitOffset + nbits) / 8);
    const v = (this.#u(off, n) >> BigInt(bitOffset)) & ((1n << BigInt(nbits)) - 1n);
    this.hex128(v);
  }

  hex128(v: bigint): void {
    const s = `0x${v.toString(16)}`;
    this.w.raw(this.plain ? s : `"${s}"`);
  }

  struct(t: Extract<BtfType, { kind: 'struct' | 'union' }>, off: number, depth: number): void {
    this.w.begin('{');
    for (const m of t.members) {
      this.w.name(m.name);
      const at = off + (m.bitOffset >> 3);
      if (t.kindFlag && m.bitfieldSize) this.bitfield(m.bitfieldSize, m.bitOffset & 7, at);
      else this.type(m.type, m.bitOffset & 7, at, depth + 1);
    }
    this.w.end('}');
  }

  array(elem: number, nelems: number, off: number, depth: number): void {
    const s = this.#string(elem, nelems, off);
    if (s !== undefined) return this.w.string(s);
    const size = this.btf.sizeOf(elem);
    if (nelems * size > 0) this.#need(off, nelems * size);
    this.w.begin('[');
    for (let i = 0; i < nelems; i++) this.type(elem, 0, off + i * size, depth + 1);
    this.w.end(']');
  }

  /** bpftool's is_str_array: an array of 1-byte `char` (modifiers skipped, typedefs not) holding printable ASCII up to a NUL. */
  #string(elem: number, nelems: number, off: number): string | undefined {
    if (!nelems) return undefined;
    let t = this.btf.typeById(elem);
    for (let i = 0; (t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'type_tag') && i < MAX_DEPTH; i++) t = this.btf.typeById(t.type);
    if (t.kind !== 'int' || t.size !== 1) return undefined;
    if (t.encoding !== 'char' && t.name !== 'char') return undefined;
    this.#need(off, nelems);
    for (let i = 0; i < nelems; i++) {
      const c = this.bytes[off + i]!;
      if (c === 0) return String.fromCharCode(...this.bytes.subarray(off, off + i));
      if (c <= 0x1f || c >= 0x7f) return undefined;
    }
    return undefined;
  }
}
