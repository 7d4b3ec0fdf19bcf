/** SymbolizeError: the typed failures of turning addresses into names. */
import { TsbpfError, type SymbolizeErrorCode } from '../../errors.ts';

/** Codes: KALLSYMS_HIDDEN, PROCESS_EXITED, BAD_ADDRESS, NO_STACK (see SymbolizeErrorCode). */
export class SymbolizeError extends TsbpfError {
  declare readonly code: SymbolizeErrorCode;
  /** The process concerned (PROCESS_EXITED). */
  readonly pid: number | undefined;
  constructor(code: SymbolizeErrorCode, message: string, pid?: number, options?: { cause?: unknown }) {
    super(code, message, options);
    this.pid = pid;
  }
}
