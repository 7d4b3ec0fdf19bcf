/**
 * The BTF type model: plain objects with a `kind` discriminant, one interface
 * per BTF kind (include/uapi/linux/btf.h). Type ids are plain numbers; id 0 is
 * `void`. Names are '' for anonymous types/members/params.
 *
 * Objects returned by a parsed {@link Btf} are cached and shared: treat them
 * as read-only (they are typed `readonly`). To edit, use {@link BtfBuilder},
 * whose `add`/`replace` take the same shapes without `id` ({@link BtfTypeInput}).
 *
 * Walking example:
 * ```ts
 * const t = btf.typeById(id);
 * switch (t.kind) {
 *   case 'struct': case 'union':
 *     for (const m of t.members) console.log(m.name, btf.typeName(m.type), m.bitOffset, m.bitfieldSize);
 *     break;
 *   case 'ptr': ...t.type...
 * }
 * ```
 */

/** Numeric kinds as in the UAPI (`BTF_KIND_*`). */
export const BTF_KIND = {
  UNKN: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;

/** Highest kind number this library understands. */
export const BTF_KIND_MAX = 19;

export type BtfKind =
  | 'void'
  | 'int'
  | 'ptr'
  | 'array'
  | 'struct'
  | 'union'
  | 'enum'
  | 'fwd'
  | 'typedef'
  | 'volatile'
  | 'const'
  | 'restrict'
  | 'func'
  | 'func_proto'
  | 'var'
  | 'datasec'
  | 'float'
  | 'decl_tag'
  | 'type_tag'
  | 'enum64';

/** Kind names indexed by kind number (index 0 is 'void': the UNKN kind only ever appears as type id 0). */
export const KIND_NAMES: readonly BtfKind[] = [
  'void', 'int', 'ptr', 'array', 'struct', 'union', 'enum', 'fwd', 'typedef', 'volatile',
  'const', 'restrict', 'func', 'func_proto', 'var', 'datasec', 'float', 'decl_tag', 'type_tag', 'enum64',
];

/** Kind number of a kind name. */
export function kindNumber(kind: BtfKind): number {
  return KIND_NAMES.indexOf(kind);
}

/** Maximum type id (BTF_MAX_TYPE), string offset, and vlen. */
export const BTF_MAX_TYPE = 0x000fffff;
export const BTF_MAX_NAME_OFFSET = 0x00ffffff;
export const BTF_MAX_VLEN = 0xffff;

interface Base<K extends BtfKind> {
  readonly kind: K;
  /** Type id (position in the BTF, continuing from the base for split BTF). */
  readonly id: number;
  /** '' when anonymous. */
  readonly name: string;
}

/** Type id 0. Never stored in BTF; returned by `typeById(0)`. */
export interface BtfVoid extends Base<'void'> {}

/** BTF_INT_* encodings: at most one of SIGNED, CHAR, BOOL. */
export type BtfIntEncoding = 'none' | 'signed' | 'char' | 'bool';

export interface BtfInt extends Base<'int'> {
  /** Size in bytes (1, 2, 4, 8 or 16). */
  readonly size: number;
  readonly encoding: BtfIntEncoding;
  /** BTF_INT_OFFSET: bit offset of the value inside the `size` bytes (0 in practice). */
  readonly bitOffset: number;
  /** BTF_INT_BITS: number of value bits. */
  readonly bits: number;
}

/** PTR, TYPEDEF, VOLATILE, CONST, RESTRICT: a reference to `type`. */
export interface BtfPtr extends Base<'ptr'> {
  readonly type: number;
}
export interface BtfTypedef extends Base<'typedef'> {
  readonly type: number;
}
export interface BtfVolatile extends Base<'volatile'> {
  readonly type: number;
}
export interface BtfConst extends Base<'const'> {
  readonly type: number;
}
export interface BtfRestrict extends Base<'restrict'> {
  readonly type: number;
}
/** `__attribute__((btf_type_tag(name)))` on `type`. */
export interface BtfTypeTag extends Base<'type_tag'> {
  readonly type: number;
  /** kind_flag: the tag is an arbitrary attribute (newer kernels). */
  readonly kindFlag: boolean;
}

export interface BtfArray extends Base<'array'> {
  /** Element type. */
  readonly type: number;
  readonly indexType: number;
  readonly nelems: number;
}

export interface BtfMember {
  /** '' for anonymous (embedded struct/union) members. */
  readonly name: string;
  readonly type: number;
  /** Offset of the member from the start of the struct, in bits. */
  readonly bitOffset: number;
  /** Width of a bitfield in bits; 0 when the member is not a bitfield. */
  readonly bitfieldSize: number;
}

export interface BtfStruct extends Base<'struct'> {
  readonly size: number;
  readonly members: readonly BtfMember[];
  /**
   * kind_flag: member offsets are encoded as (bitfield_size << 24 | bit_offset).
   * Members always expose the decoded `bitOffset`/`bitfieldSize` either way.
   */
  readonly kindFlag: boolean;
}
export interface BtfUnion extends Base<'union'> {
  readonly size: number;
  readonly members: readonly BtfMember[];
  /** See {@link BtfStruct.kindFlag}. */
  readonly kindFlag: boolean;
}

export interface BtfEnumValue {
  readonly name: string;
  /** Signed 32-bit when the enum is signed, unsigned 32-bit otherwise. */
  readonly value: number;
}
export interface BtfEnum extends Base<'enum'> {
  /** Size in bytes (1, 2, 4 or 8). */
  readonly size: number;
  /** kind_flag: values are signed. */
  readonly signed: boolean;
  readonly values: readonly BtfEnumValue[];
}

export interface BtfEnum64Value {
  readonly name: string;
  /** Signed or unsigned 64-bit according to the enum's `signed`. */
  readonly value: bigint;
}
export interface BtfEnum64 extends Base<'enum64'> {
  readonly size: number;
  readonly signed: boolean;
  readonly values: readonly BtfEnum64Value[];
}

export interface BtfFwd extends Base<'fwd'> {
  /** kind_flag: 0 = struct, 1 = union. */
  readonly fwdKind: 'struct' | 'union';
}

/** BTF_FUNC_STATIC / GLOBAL / EXTERN. */
export type BtfFuncLinkage = 'static' | 'global' | 'extern';

export interface BtfFunc extends Base<'func'> {
  /** The FUNC_PROTO id. */
  readonly type: number;
  readonly linkage: BtfFuncLinkage;
}

export interface BtfParam {
  /** '' when unnamed. A last param with name '' and type 0 means `...` (variadic). */
  readonly name: string;
  readonly type: number;
}
export interface BtfFuncProto extends Base<'func_proto'> {
  /** Return type id (0 = void). */
  readonly returnType: number;
  readonly params: readonly BtfParam[];
}

/** BTF_VAR_STATIC / GLOBAL_ALLOCATED / GLOBAL_EXTERN. */
export type BtfVarLinkage = 'static' | 'global' | 'extern';

export interface BtfVar extends Base<'var'> {
  readonly type: number;
  readonly linkage: BtfVarLinkage;
}

export interface BtfVarSecinfo {
  /** A VAR (or FUNC, for extern kfuncs in .ksyms) type id. */
  readonly type: number;
  /** Offset in the section, in bytes. */
  readonly offset: number;
  readonly size: number;
}
export interface BtfDatasec extends Base<'datasec'> {
  readonly size: number;
  readonly vars: readonly BtfVarSecinfo[];
}

export interface BtfFloat extends Base<'float'> {
  readonly size: number;
}

/** `__attribute__((btf_decl_tag(name)))` on `type` (or on one of its members/params). */
export interface BtfDeclTag extends Base<'decl_tag'> {
  readonly type: number;
  /** -1: the tag applies to the type itself; else the member / param index. */
  readonly componentIdx: number;
  /** kind_flag: the tag is an arbitrary attribute (newer kernels). */
  readonly kindFlag: boolean;
}

/** Every BTF type (the `kind` field discriminates). */
export type BtfType =
  | BtfVoid
  | BtfInt
  | BtfPtr
  | BtfArray
  | BtfStruct
  | BtfUnion
  | BtfEnum
  | BtfFwd
  | BtfTypedef
  | BtfVolatile
  | BtfConst
  | BtfRestrict
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfFloat
  | BtfDeclTag
  | BtfTypeTag
  | BtfEnum64;

/** The type object of a given kind name: `BtfTypeOf<'struct'>` is `BtfStruct`. */
export type BtfTypeOf<K extends BtfKind> = Extract<BtfType, { kind: K }>;

type Mutable<T> = { -readonly [P in keyof T]: T[P] };
type DistributiveInput<T> = T extends BtfType ? Mutable<Omit<T, 'id'>> & { id?: number } : never;

/** A type as given to {@link BtfBuilder.add}/`replace`: a type object without (or ignoring) `id`. */
export type BtfTypeInput = DistributiveInput<Exclude<BtfType, BtfVoid>>;

/** Kinds whose single `type` field references another type and adds nothing to layout. */
export function isModifier(kind: BtfKind): kind is 'typedef' | 'volatile' | 'const' | 'restrict' | 'type_tag' {
  return kind === 'typedef' || kind === 'volatile' || kind === 'const' || kind === 'restrict' || kind === 'type_tag';
}

/** struct or union. */
export function isComposite(t: BtfType): t is BtfStruct | BtfUnion {
  return t.kind === 'struct' || t.kind === 'union';
}

/** enum or enum64. */
export function isEnum(t: BtfType): t is BtfEnum | BtfEnum64 {
  return t.kind === 'enum' || t.kind === 'enum64';
}
