import { TsbpfError } from '../errors.ts';

/**
 * Stable codes of {@link BtfError}:
 * - `BTF_TRUNCATED`       a header, section, type or record runs past the end of its data
 * - `BTF_BAD_MAGIC`       not BTF / BTF.ext (magic is neither 0xeB9F nor its byte swap)
 * - `BTF_BAD_VERSION`     unsupported header version
 * - `BTF_UNKNOWN_KIND`    a type of a kind this library does not know (names the kind and type id)
 * - `BTF_MALFORMED`       structurally invalid data (bad string offset, bad encoding, bad layout)
 * - `BTF_NOT_FOUND`       no such type id / name / section
 * - `BTF_LOOP`            a reference cycle or absurd nesting while resolving a type
 * - `BTF_INVALID_TYPE`    an operation does not apply to this kind (e.g. sizeOf a function)
 * - `BTF_NO_BTF`          an ELF file without a .BTF section
 * - `BTF_NOT_IMPLEMENTED` feature not available
 */
export type BtfErrorCode =
  | 'BTF_TRUNCATED'
  | 'BTF_BAD_MAGIC'
  | 'BTF_BAD_VERSION'
  | 'BTF_UNKNOWN_KIND'
  | 'BTF_MALFORMED'
  | 'BTF_NOT_FOUND'
  | 'BTF_LOOP'
  | 'BTF_INVALID_TYPE'
  | 'BTF_NO_BTF'
  | 'BTF_NOT_IMPLEMENTED';

/** Every error the btf/ module throws on purpose. */
export class BtfError extends TsbpfError {
  declare readonly code: BtfErrorCode;
  /** The type id concerned, when there is one. */
  readonly typeId: number | undefined;

  constructor(code: BtfErrorCode, message: string, options?: { cause?: unknown; typeId?: number }) {
    super(code, message, options);
    this.typeId = options?.typeId;
  }
}
