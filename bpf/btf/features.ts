/**
 * Which BTF kinds the running kernel accepts, probed once each by loading a
 * tiny blob that uses the kind (as libbpf does), so the loader can sanitise
 * program BTF for older kernels instead of losing it.
 */
import { BtfBuilder } from '../../btf/builder.ts';
import type { BtfTypeInput } from '../../btf/types.ts';
import { closeFd } from '../../syscall/index.ts';
import { loadBtfBlob } from './handle.ts';

export type BtfFeature = 'datasec' | 'float' | 'func' | 'funcGlobal' | 'declTag' | 'typeTag' | 'enum64';

export type BtfFeatures = Record<BtfFeature, boolean>;

const t = (x: Record<string, unknown>) => x as unknown as BtfTypeInput;

/** A blob exercising one feature on top of an `int` (type 1). */
function blobFor(f: BtfFeature): Uint8Array {
  const b = new BtfBuilder();
  const int = b.add(t({ kind: 'int', name: 'int', size: 4, encoding: 'signed', bitOffset: 0, bits: 32 }));
  switch (f) {
    case 'datasec': {
      const v = b.add(t({ kind: 'var', name: 'x', type: int, linkage: 'global' }));
      b.add(t({ kind: 'datasec', name: '.data', size: 4, vars: [{ type: v, offset: 0, size: 4 }] }));
      break;
    }
    case 'float':
      b.add(t({ kind: 'float', name: 'float', size: 4 }));
      break;
    case 'func':
    case 'funcGlobal': {
      const proto = b.add(t({ kind: 'func_proto', name: '', returnType: int, params: [] }));
      b.add(t({ kind: 'func', name: 'f', type: proto, linkage: f === 'func' ? 'static' : 'global' }));
      break;
    }
    case 'declTag': {
      // Tags attach to structs, unions, typedefs, vars and funcs, not to ints.
      const td = b.add(t({ kind: 'typedef', name: 't', type: int }));
      b.add(t({ kind: 'decl_tag', name: 'tag', type: td, componentIdx: -1, kindFlag: false }));
      break;
    }
    case 'typeTag': {
      const tag = b.add(t({ kind: 'type_tag', name: 'tag', type: int, kindFlag: false }));
      b.add(t({ kind: 'ptr', name: '', type: tag }));
      break;
    }
    case 'enum64':
      b.add(t({ kind: 'enum64', name: 'e', size: 8, signed: false, values: [{ name: 'A', value: 1n << 40n }] }));
      break;
  }
  return b.marshal({ littleEndian: true });
}

let cached: BtfFeatures | undefined;

/** What this kernel's BTF loader accepts (probed once per process). */
export function btfFeatures(): BtfFeatures {
  if (cached) return cached;
  const probe = (f: BtfFeature): boolean => {
    try {
      closeFd(loadBtfBlob(blobFor(f)));
      return true;
    } catch {
      return false;
    }
  };
  cached = {
    datasec: probe('datasec'),
    float: probe('float'),
    func: probe('func'),
    funcGlobal: probe('funcGlobal'),
    declTag: probe('declTag'),
    typeTag: probe('typeTag'),
    enum64: probe('enum64'),
  };
  return cached;
}

/** All features present: nothing to sanitise. */
export const ALL_BTF_FEATURES: BtfFeatures = { datasec: true, float: true, func: true, funcGlobal: true, declTag: true, typeTag: true, enum64: true };
