/**
 * C dump (vmlinux.h style). STUB: another module owner writes the real one on
 * top of the Btf type API; this only keeps the CLI compiling until then.
 */
import type { Btf } from './btf.ts';
import { BtfError } from './errors.ts';

export interface DumpCOptions {}

export function dumpC(btf: Btf, opts?: DumpCOptions): string {
  void btf;
  void opts;
  throw new BtfError('BTF_NOT_IMPLEMENTED', 'C dump is not implemented yet');
}
