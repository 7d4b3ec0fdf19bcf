/** The CLI verb type, its usage error, and what several verbs share (listing kernel objects). */
import { TsbpfError } from '../../errors.ts';

/** A CLI verb: `name` may be several words ("btf dump"). */
export interface Command {
  name: string;
  usage: string;
  summary: string;
  run(args: string[]): Promise<number>;
}

/** A bad command line: the dispatcher prints it with the verb's usage line and exits 2. */
export class UsageError extends TsbpfError {
  declare readonly code: 'USAGE';
  constructor(message: string) {
    super('USAGE', message);
  }
}

/** What the kernel reports about every object of a kind: open each id, read its info, close it. */
export function infosOf<T>(ids: Iterable<number>, open: (id: number) => { info(): T } & Disposable): T[] {
  const out: T[] = [];
  for (const id of ids) {
    try {
      using o = open(id);
      out.push(o.info());
    } catch (e) {
      // Gone between listing and opening; anything else (EPERM) is the caller's to hear.
      if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
    }
  }
  return out;
}
