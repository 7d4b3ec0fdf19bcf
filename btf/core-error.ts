/** CoreError, the error of the CO-RE engine; its codes (CoreErrorCode) are listed in errors.ts. */
import type { CoreErrorCode, ErrorCode } from '../errors.ts';
import { BtfError } from './errors.ts';

export type { CoreErrorCode };

// BtfError types `code` as BtfErrorCode; CoreError narrows it to its own codes,
// so it derives from a view of BtfError without that property type.
const BtfErrorBase = BtfError as unknown as abstract new (
  code: CoreErrorCode,
  message: string,
  options?: { cause?: unknown; typeId?: number },
) => Omit<BtfError, 'code'> & { readonly code: ErrorCode };

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
