/** The check every attach makes first, before any syscall: the program's type suits the hook. */
import type { Program } from '../programs/program.ts';
import { progTypeName } from '../programs/types.ts';
import { AttachError } from './link.ts';

/** Throws WRONG_PROGRAM_TYPE unless `prog` is one of `types`; `hook` and `needs` word the message. */
export function requireProgType(prog: Program, types: readonly number[], hook: string, needs = types.map(progTypeName).join(' or ')): void {
  if (!types.includes(prog.type)) {
    throw new AttachError('WRONG_PROGRAM_TYPE', `cannot attach ${progTypeName(prog.type)} program '${prog.name}' to ${hook}: it needs a ${needs} program`);
  }
}
