/**
 * One-line C signatures of BTF types as bpftool prints them above a
 * function's instructions ("int on_getpgid(struct sys_enter_ctx * ctx)"):
 * each type name followed by a space, pointers as "* ".
 */
import type { Btf } from './btf.ts';

/** The signature of `typeId` (a FUNC gives its prototype with its name), or '' when a type cannot be printed. */
export function typeSignature(btf: Btf, typeId: number): string {
  const out: string[] = [];
  const ok = put(btf, typeId, out, 0);
  return ok ? out.join('') : '';
}

/** Depth-bounded: hostile BTF may chain modifiers or pointers in a loop. */
function put(btf: Btf, id: number, out: string[], depth: number): boolean {
  if (depth > 64) return false;
  if (id === 0) {
    out.push('void ');
    return true;
  }
  let t;
  try {
    t = btf.typeById(id);
  } catch {
    return false;
  }
  switch (t.kind) {
    case 'int':
    case 'typedef':
    case 'float':
      out.push(`${t.name} `);
      return true;
    case 'struct':
    case 'union':
    case 'enum':
      out.push(`${t.kind} ${t.name} `);
      return true;
    case 'enum64':
      out.push(`enum ${t.name} `);
      return true;
    case 'array':
      if (!put(btf, t.type, out, depth + 1)) return false;
      out.push(`[${t.nelems}]`);
      return true;
    case 'ptr':
      if (!put(btf, t.type, out, depth + 1)) return false;
      out.push('* ');
      return true;
    case 'fwd':
      out.push(`${t.fwdKind} ${t.name} `);
      return true;
    case 'volatile':
    case 'const':
    case 'restrict':
      out.push(`${t.kind} `);
      return put(btf, t.type, out, depth + 1);
    case 'func_proto':
      return proto(btf, t, undefined, out, depth);
    case 'func': {
      let p;
      try {
        p = btf.typeById(t.type);
      } catch {
        return false;
      }
      return p.kind === 'func_proto' && proto(btf, p, t.name, out, depth);
    }
    case 'var':
      if (t.linkage === 'static') out.push('static ');
      if (!put(btf, t.type, out, depth + 1)) return false;
      out.push(` ${t.name}`);
      return true;
    case 'datasec':
      out.push(`section ("${t.name}") `);
      return true;
    default:
      return false;
  }
}

function proto(btf: Btf, p: { returnType: number; params: readonly { name: string; type: number }[] }, name: string | undefined, out: string[], depth: number): boolean {
  if (!put(btf, p.returnType, out, depth + 1)) return false;
  out.push(`${name ?? ''}(`);
  for (let i = 0; i < p.params.length; i++) {
    const a = p.params[i]!;
    if (i) out.push(', ');
    if (a.type === 0) {
      out.push('...');
      continue;
    }
    if (!put(btf, a.type, out, depth + 1)) return false;
    if (a.name) out.push(a.name);
    else if (out.length && out[out.length - 1]!.endsWith(' ')) out[out.length - 1] = out[out.length - 1]!.slice(0, -1);
  }
  out.push(')');
  return true;
}
