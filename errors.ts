/**
 * Base class of every error tsbpf throws on purpose. `code` is stable and
 * meant for programs (`err.code === 'ENOENT'`, `'ELF_TRUNCATED'`), the
 * message is for people.
 */
export class TsbpfError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
