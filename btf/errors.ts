/** BtfError, the error of btf/; its codes (BtfErrorCode) are listed in errors.ts. */
import { TsbpfError, type BtfErrorCode } from '../errors.ts';

export type { BtfErrorCode };

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
