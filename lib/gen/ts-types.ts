/**
 * BTF types as TypeScript declarations, for the skeleton generator: each
 * type written as what btfCodec (default options) decodes it to, so the
 * declared types and the runtime values agree. Named structs, unions and
 * enums (or anonymous ones named by a typedef) become declarations under
 * sanitized, collision-free names; anonymous ones are written inline.
 */
import type { Btf } from '../../btf/btf.ts';
import type { BtfType } from '../../btf/types.ts';
import { TsbpfError } from '../../errors.ts';

/** Names a generated module must not declare: TS keywords, the globals it refers to, its own import. */
const RESERVED = new Set(
  (
    'break case catch class const continue debugger default delete do else enum export extends false finally for function if import in ' +
    'instanceof new null return super switch this throw true try typeof var void while with as implements interface let package private ' +
    'protected public static yield any bigint boolean never number object string symbol undefined unknown async await declare from get ' +
    'is keyof module namespace of readonly require set type infer global satisfies accessor out constructor arguments eval ' +
    'Array Boolean Buffer DataView Date Disposable Error Function Map Number Object Partial Promise Readonly ReadonlyArray Record Set ' +
    'String Symbol Uint8Array BigInt globalThis tsbpf load OBJECT LAYOUT'
  ).split(' '),
);

const DECL_KINDS = ['struct', 'union', 'enum', 'enum64'] as const;
type DeclKind = (typeof DECL_KINDS)[number];

/** One declaration to write: a struct/union interface or an enum's type and names. */
export interface Decl {
  /** BTF id of the struct, union or enum. */
  id: number;
  kind: DeclKind;
  /** C name (or the typedef's, for an anonymous type named by one). */
  cName: string;
  /** TS name, sanitized and unique. */
  name: string;
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A property key: bare when it is an identifier, JSON-quoted otherwise (and for __proto__). */
export function propKey(name: string): string {
  return IDENT.test(name) && name !== '__proto__' ? name : JSON.stringify(name);
}

/** A key in an object literal: computed for __proto__, which as a plain key would set the prototype instead. */
export function literalKey(name: string): string {
  return name === '__proto__' ? '["__proto__"]' : propKey(name);
}

/** Text from the BTF or a file name inside a generated comment: it can neither end the comment nor the line. */
export function commentSafe(s: string): string {
  return s.replace(/\*\//g, '*\\/').replace(/[\x00-\x1f\x7f\u2028\u2029]/g, '?');
}

/** A C name as a TS identifier. */
export function sanitize(name: string): string {
  let s = name.replace(/[^A-Za-z0-9_$]/g, '_');
  if (!s || /^[0-9]/.test(s)) s = '_' + s;
  return RESERVED.has(s) ? s + '_' : s;
}

/**
 * Collects the declarations reachable from root types and writes type
 * expressions for them. Names are assigned once every root is known
 * (finish()), in a deterministic order, so the output depends on the BTF only.
 */
export class TsTypes {
  readonly #decls = new Map<number, Decl>();
  /** Typedef names of anonymous composites/enums (first typedef seen names it). */
  readonly #typedefName = new Map<number, string>();
  #named = false;
  readonly #taken: Set<string>;

  constructor(
    readonly btf: Btf,
    taken: Iterable<string> = [],
  ) {
    this.#taken = new Set(taken);
  }

  /** Note every declaration type `id` reaches (by value: pointers are numbers and are not followed). */
  visit(id: number, depth = 0): void {
    if (depth > 64) throw new TsbpfError('BTF_LOOP', `type ${id} nests too deeply to declare`);
    let t = this.btf.typeById(id);
    let typedef: string | undefined;
    while (t.kind === 'typedef' || t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'type_tag') {
      if (t.kind === 'typedef' && typedef === undefined) typedef = t.name;
      t = this.btf.typeById(t.type);
      if (++depth > 64) throw new TsbpfError('BTF_LOOP', `type ${id}: typedef chain too deep`);
    }
    if (t.kind === 'array') return this.visit(t.type, depth + 1);
    if (!isDeclKind(t.kind)) return;
    if (!t.name && typedef && !this.#typedefName.has(t.id)) this.#typedefName.set(t.id, typedef);
    const cName = t.name || this.#typedefName.get(t.id);
    if (cName && !this.#decls.has(t.id)) {
      if (this.#named) throw new TsbpfError('BTF_INVALID_TYPE', 'TsTypes.visit after finish');
      this.#decls.set(t.id, { id: t.id, kind: t.kind as DeclKind, cName, name: '' });
    } else if (cName) return;
    if (t.kind === 'struct' || t.kind === 'union') for (const m of t.members) this.visit(m.type, depth + 1);
  }

  /** Give every declaration its name: by C name, then kind (struct, union, enum), then id; later ones get `_union`, `_enum`, `_2`... */
  finish(): Decl[] {
    this.#named = true;
    const order = [...this.#decls.values()].sort((a, b) => cmp(a.cName, b.cName) || DECL_KINDS.indexOf(a.kind) - DECL_KINDS.indexOf(b.kind) || a.id - b.id);
    for (const d of order) {
      const base = sanitize(d.cName);
      let name = base;
      if (this.#taken.has(name)) name = `${base}_${d.kind === 'enum64' ? 'enum' : d.kind}`;
      for (let n = 2; this.#taken.has(name); n++) name = `${base}_${n}`;
      this.#taken.add(name);
      d.name = name;
    }
    return order;
  }

  /** Whether `name` is already used (by a declaration or a reserved name). */
  taken(name: string): boolean {
    return this.#taken.has(name);
  }

  /** A name not yet used, derived from `base`, now reserved. */
  claim(base: string): string {
    let name = sanitize(base);
    for (let n = 2; this.#taken.has(name); n++) name = `${sanitize(base)}_${n}`;
    this.#taken.add(name);
    return name;
  }

  #declName(t: BtfType): string | undefined {
    return this.#decls.get(t.id)?.name || undefined;
  }

  /** The TS type of a value of BTF type `id`, as btfCodec decodes it. */
  expr(id: number, indent = '', depth = 0): string {
    if (depth > 64) throw new TsbpfError('BTF_LOOP', `type ${id} nests too deeply to declare`);
    const t = this.btf.resolve(id);
    switch (t.kind) {
      case 'int':
        if (t.encoding === 'bool') return 'boolean';
        // As btfCodec: 1, 2 and 4 bytes are numbers, every other width (8, 16, a lying 3) a bigint.
        return t.size === 1 || t.size === 2 || t.size === 4 ? 'number' : 'bigint';
      case 'enum':
      case 'enum64': {
        const n = this.#declName(t);
        if (n) return n;
        return (t.kind === 'enum64' ? 8 : t.size) === 8 ? 'bigint' : 'number';
      }
      case 'float':
        return t.size === 4 || t.size === 8 ? 'number' : 'Uint8Array';
      case 'ptr':
        return this.btf.pointerSize === 4 ? 'number' : 'bigint';
      case 'array': {
        const e = this.btf.resolve(t.type);
        if (e.kind === 'int' && e.size === 1 && (e.encoding === 'char' || e.name === 'char')) return 'string';
        const inner = this.expr(t.type, indent, depth + 1);
        return /^[A-Za-z_$][\w$]*(\[\])*$/.test(inner) ? `${inner}[]` : `(${inner})[]`;
      }
      case 'struct':
      case 'union':
        return this.#declName(t) ?? this.body(t.id, indent, depth + 1);
      case 'void':
      case 'fwd':
      case 'func_proto':
        return 'null';
      default:
        throw new TsbpfError('BTF_INVALID_TYPE', `type ${id} (${t.kind}) has no TypeScript form`);
    }
  }

  /** `{ field: T; ... }` of a struct or union, fields flattened as btfCodec flattens them. */
  body(id: number, indent = '', depth = 0): string {
    const t = this.btf.resolve(id);
    if (t.kind !== 'struct' && t.kind !== 'union') throw new TsbpfError('BTF_INVALID_TYPE', `type ${id} is no struct`);
    const lines: string[] = [];
    this.#fields(t, indent + '  ', lines, depth, new Set());
    return lines.length ? `{\n${lines.join('\n')}\n${indent}}` : '{}';
  }

  /** `seen`: field names already written (btfCodec refuses a struct naming one twice; one declaration each keeps the module compiling). */
  #fields(t: BtfType & { kind: 'struct' | 'union' }, indent: string, out: string[], depth: number, seen: Set<string>): void {
    if (depth > 64) throw new TsbpfError('BTF_LOOP', `type ${t.id} nests too deeply to declare`);
    for (const m of t.members) {
      const mt = this.btf.resolve(m.type);
      const legacy = !m.bitfieldSize && mt.kind === 'int' && (mt.bits !== mt.size * 8 || m.bitOffset % 8 !== 0 || mt.bitOffset !== 0);
      if (m.bitfieldSize || legacy) {
        const bits = legacy && mt.kind === 'int' ? mt.bits : m.bitfieldSize;
        if (m.name && bits && !seen.has(m.name)) {
          seen.add(m.name);
          out.push(`${indent}${propKey(m.name)}: ${bits > 32 ? 'bigint' : 'number'};`);
        }
        continue;
      }
      if (!m.name) {
        if (mt.kind === 'struct' || mt.kind === 'union') this.#fields(mt, indent, out, depth + 1, seen);
        continue;
      }
      if (seen.has(m.name)) continue;
      seen.add(m.name);
      out.push(`${indent}${propKey(m.name)}: ${this.expr(m.type, indent, depth + 1)};`);
    }
  }

  /** The source of one declaration. */
  declaration(d: Decl): string {
    const t = this.btf.typeById(d.id);
    const what = commentSafe(`${d.kind === 'enum64' ? 'enum' : d.kind} ${d.cName}`).replace(/`/g, "'");
    if (t.kind === 'struct' || t.kind === 'union') {
      const union = t.kind === 'union' ? ' Its members share bytes: a decode gives every one of them.' : '';
      return `/** C \`${what}\` (${t.size} bytes).${union} */\nexport interface ${d.name} ${this.body(d.id)}\n`;
    }
    if (t.kind === 'enum' || t.kind === 'enum64') {
      const big = (t.kind === 'enum64' ? 8 : t.size) === 8;
      const seen = new Set<string>();
      const vals: string[] = [];
      for (const v of t.values) {
        if (seen.has(v.name)) continue;
        seen.add(v.name);
        vals.push(`  ${literalKey(v.name)}: ${big ? `${BigInt(v.value)}n` : String(Number(v.value))},`);
      }
      return (
        `/** C \`${what}\`: decoded as its ${big ? 'bigint' : 'number'} value; the names below, or the names themselves on encode. */\n` +
        `export type ${d.name} = ${big ? 'bigint' : 'number'};\n` +
        `export const ${d.name} = {\n${vals.join('\n')}${vals.length ? '\n' : ''}} as const;\n`
      );
    }
    throw new TsbpfError('BTF_INVALID_TYPE', `declaration of a ${t.kind}`);
  }
}

function isDeclKind(k: string): k is DeclKind {
  return (DECL_KINDS as readonly string[]).includes(k);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
