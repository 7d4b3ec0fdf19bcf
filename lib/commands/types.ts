/** What a CLI verb is (Command), its usage errors, and the argument parsing the verbs share. */
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

export interface ArgSpec {
  /** Flags that take no value (`--json`). */
  booleans?: readonly string[];
  /** Flags that take one value (`--type T`, `--type=T`). */
  values?: readonly string[];
  /** How many positionals the verb takes (default: none). */
  min?: number;
  max?: number;
}

/**
 * Flag parser: `--flag value`, `--flag=value`, boolean `--flag`, positionals.
 * Anything the verb did not declare is a UsageError, as is a missing value or
 * a wrong number of positionals.
 */
export function parseArgs(args: string[], spec: ArgSpec = {}): { positional: string[]; flags: Map<string, string | true> } {
  const booleans = spec.booleans ?? [];
  const values = spec.values ?? [];
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a.length === 2) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (booleans.includes(name)) {
      if (eq > 0) throw new UsageError(`--${name} takes no value`);
      flags.set(name, true);
    } else if (values.includes(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined || v === '' || (eq < 0 && v.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
      flags.set(name, v);
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  const min = spec.min ?? 0;
  const max = spec.max ?? min;
  if (positional.length < min) throw new UsageError(`expected ${min === max ? min : `at least ${min}`} argument${min === 1 ? '' : 's'}, got ${positional.length}`);
  if (positional.length > max) throw new UsageError(`unexpected argument '${positional[max]}'`);
  return { positional, flags };
}

/** The string value of a value flag, when given. */
export function flagValue(flags: Map<string, string | true>, name: string): string | undefined {
  const v = flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

/** A whole number in decimal or 0x hex, from `min` to `max`; anything else is a UsageError. */
export function parseUint(what: string, s: string, max = 0xffffffff, min = 0): number {
  const n = /^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : /^0x[0-9a-f]+$/i.test(s) ? Number.parseInt(s.slice(2), 16) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${what} must be a whole number from ${min} to ${max}, got '${s}'`);
  return n;
}

/** A finite positive number (seconds and the like). */
export function parsePositive(what: string, s: string): number {
  const n = /^[0-9]*\.?[0-9]+$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${what} must be a positive number, got '${s}'`);
  return n;
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
