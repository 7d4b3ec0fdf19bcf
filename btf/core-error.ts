import { BtfError } from './errors.ts';

/**
 * Stable codes of {@link CoreError}:
 * - `CORE_BAD_RELO`        the relocation record cannot be applied: bad access string or type id,
 *                          an index out of range, an anonymous root type, an unknown kind, a kind
 *                          that does not apply to the accessed member, a bitfield no 64-bit load covers
 * - `CORE_AMBIGUOUS`       several target candidates resolve to different values
 * - `CORE_UNEXPECTED_INSN` the instruction does not hold the local value (or has a form this kind
 *                          cannot patch: ALU with a register source, malformed ld_imm64, a jump...)
 * - `CORE_OFFSET_RANGE`    the new offset of a load/store does not fit the instruction's 16-bit offset
 */
export type CoreErrorCode = 'CORE_BAD_RELO' | 'CORE_AMBIGUOUS' | 'CORE_UNEXPECTED_INSN' | 'CORE_OFFSET_RANGE';

// BtfError types `code` as BtfErrorCode; CoreError narrows it to its own codes,
// so it derives from a view of BtfError without that property type.
const BtfErrorBase = BtfError as unknown as abstract new (
  code: string,
  message: string,
  options?: { cause?: unknown; typeId?: number },
) => Omit<BtfError, 'code'> & { readonly code: string };

/**
 * Errors of the CO-RE relocation engine. At run time an instance of
 * {@link BtfError} (and of TsbpfError), with `code` one of {@link CoreErrorCode}.
 */
export class CoreError extends BtfErrorBase {
  declare readonly code: CoreErrorCode;
  /** Byte offset of the relocated instruction in its section, when known. */
  readonly insnOff: number | undefined;

  constructor(code: CoreErrorCode, message: string, options?: { cause?: unknown; typeId?: number; insnOff?: number }) {
    super(code, message, options);
    this.insnOff = options?.insnOff;
  }
}
