/**
 * Raw dumps in the format of `bpftool btf dump file FILE` (text) and
 * `bpftool -j btf dump file FILE` (JSON). For split BTF only the split
 * types are dumped, as bpftool does with `-B base`.
 */
import type { Btf } from './btf.ts';
import type { BtfType } from './types.ts';

const INT_ENC: Record<string, string> = { none: '(none)', signed: 'SIGNED', char: 'CHAR', bool: 'BOOL' };

const anon = (s: string) => (s === '' ? '(anon)' : s);

/** One type as bpftool prints it (possibly several lines, no trailing newline). */
export function formatTypeRaw(btf: Btf, t: BtfType): string {
  let s = `[${t.id}] ${t.kind.toUpperCase()} '${anon(t.name)}'`;
  switch (t.kind) {
    case 'int':
      s += ` size=${t.size} bits_offset=${t.bitOffset} nr_bits=${t.bits} encoding=${INT_ENC[t.encoding]}`;
      break;
    case 'ptr':
    case 'const':
    case 'volatile':
    case 'restrict':
    case 'typedef':
    case 'type_tag':
      s += ` type_id=${t.type}`;
      break;
    case 'array':
      s += ` type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`;
      break;
    case 'struct':
    case 'union':
      s += ` size=${t.size} vlen=${t.members.length}`;
      for (const m of t.members) {
        s += `\n\t'${anon(m.name)}' type_id=${m.type} bits_offset=${m.bitOffset}`;
        if (m.bitfieldSize) s += ` bitfield_size=${m.bitfieldSize}`;
      }
      break;
    case 'enum':
    case 'enum64': {
      const suffix = t.kind === 'enum64' ? (t.signed ? 'LL' : 'ULL') : '';
      s += ` encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`;
      for (const v of t.values) s += `\n\t'${anon(v.name)}' val=${v.value}${suffix}`;
      break;
    }
    case 'fwd':
      s += ` fwd_kind=${t.fwdKind}`;
      break;
    case 'func':
      s += ` type_id=${t.type} linkage=${t.linkage}`;
      break;
    case 'func_proto':
      s += ` ret_type_id=${t.returnType} vlen=${t.params.length}`;
      for (const p of t.params) s += `\n\t'${anon(p.name)}' type_id=${p.type}`;
      break;
    case 'var':
      s += ` type_id=${t.type}, linkage=${t.linkage}`;
      break;
    case 'datasec':
      s += ` size=${t.size} vlen=${t.vars.length}`;
      for (const v of t.vars) {
        s += `\n\ttype_id=${v.type} offset=${v.offset} size=${v.size}`;
        s += ` (${btf.kindOf(v.type).toUpperCase()} '${anon(btf.nameOf(v.type))}')`;
      }
      break;
    case 'float':
      s += ` size=${t.size}`;
      break;
    case 'decl_tag':
      s += ` type_id=${t.type} component_idx=${t.componentIdx}`;
      break;
    case 'void':
      break;
  }
  return s;
}

/** The whole of `bpftool btf dump file FILE` (ends with a newline unless empty). */
export function dumpRaw(btf: Btf): string {
  return dumpWith(btf, formatTypeRaw, '\n', '\n');
}

/**
 * Format every own type and join with `sep` (plus `end` when non-empty).
 * Lines are joined in chunks so that the many small strings die young
 * (one 12 MB rope of 300k pieces costs more in GC than formatting it).
 */
function dumpWith(btf: Btf, fmt: (btf: Btf, t: BtfType) => string, sep: string, end: string): string {
  const chunks: string[] = [];
  let lines: string[] = [];
  for (const t of btf.types({ cache: false })) {
    lines.push(fmt(btf, t));
    if (lines.length === 512) {
      chunks.push(lines.join(sep));
      lines = [];
    }
  }
  if (lines.length) chunks.push(lines.join(sep));
  return chunks.length ? chunks.join(sep) + end : '';
}

/** JSON string literal escaped like bpftool's json_writer. */
function jstr(s: string): string {
  let needs = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c || c === 0x08) {
      needs = true;
      break;
    }
  }
  if (!needs) return `"${s}"`;
  return (
    '"' +
    s.replace(/[\t\n\r\f\b\\"]/g, (c) => ({ '\t': '\\t', '\n': '\\n', '\r': '\\r', '\f': '\\f', '\b': '\\b', '\\': '\\\\', '"': '\\"' })[c]!) +
    '"'
  );
}

/**
 * bpftool prints an unsigned 32-bit enum value through a signed 32-bit field
 * widened to u64: values >= 2^31 come out sign-extended (4026531839 prints as
 * 18446744073441116159). Reproduced for byte-identical output.
 */
function jsonEnumVal(kind: 'enum' | 'enum64', signed: boolean, v: number | bigint): string {
  if (kind === 'enum' && !signed && typeof v === 'number' && v >= 0x80000000) {
    return BigInt.asUintN(64, BigInt(v | 0)).toString();
  }
  return String(v);
}

/** One type as bpftool -j prints it. */
export function formatTypeJson(btf: Btf, t: BtfType): string {
  let s = `{"id":${t.id},"kind":"${t.kind.toUpperCase()}","name":${jstr(anon(t.name))}`;
  switch (t.kind) {
    case 'int':
      s += `,"size":${t.size},"bits_offset":${t.bitOffset},"nr_bits":${t.bits},"encoding":"${INT_ENC[t.encoding]}"`;
      break;
    case 'ptr':
    case 'const':
    case 'volatile':
    case 'restrict':
    case 'typedef':
    case 'type_tag':
      s += `,"type_id":${t.type}`;
      break;
    case 'array':
      s += `,"type_id":${t.type},"index_type_id":${t.indexType},"nr_elems":${t.nelems}`;
      break;
    case 'struct':
    case 'union':
      s += `,"size":${t.size},"vlen":${t.members.length},"members":[`;
      s += t.members
        .map(
          (m) =>
            `{"name":${jstr(anon(m.name))},"type_id":${m.type},"bits_offset":${m.bitOffset}` +
            (m.bitfieldSize ? `,"bitfield_size":${m.bitfieldSize}}` : '}'),
        )
        .join(',');
      s += ']';
      break;
    case 'enum':
    case 'enum64':
      s += `,"encoding":"${t.signed ? 'SIGNED' : 'UNSIGNED'}","size":${t.size},"vlen":${t.values.length},"values":[`;
      s += t.values.map((v) => `{"name":${jstr(anon(v.name))},"val":${jsonEnumVal(t.kind, t.signed, v.value)}}`).join(',');
      s += ']';
      break;
    case 'fwd':
      s += `,"fwd_kind":"${t.fwdKind}"`;
      break;
    case 'func':
      s += `,"type_id":${t.type},"linkage":"${t.linkage}"`;
      break;
    case 'func_proto':
      s += `,"ret_type_id":${t.returnType},"vlen":${t.params.length},"params":[`;
      s += t.params.map((p) => `{"name":${jstr(anon(p.name))},"type_id":${p.type}}`).join(',');
      s += ']';
      break;
    case 'var':
      s += `,"type_id":${t.type},"linkage":"${t.linkage}"`;
      break;
    case 'datasec':
      s += `,"size":${t.size},"vlen":${t.vars.length},"vars":[`;
      s += t.vars.map((v) => `{"type_id":${v.type},"offset":${v.offset},"size":${v.size}}`).join(',');
      s += ']';
      break;
    case 'float':
      s += `,"size":${t.size}`;
      break;
    case 'decl_tag':
      s += `,"type_id":${t.type},"component_idx":${t.componentIdx}`;
      break;
    case 'void':
      break;
  }
  return s + '}';
}

/** The whole of `bpftool -j btf dump file FILE`: `{"types":[...]}` and a newline. */
export function dumpJson(btf: Btf): string {
  return `{"types":[${dumpWith(btf, formatTypeJson, ',', '')}]}\n`;
}
