/** Command-line argument parsing for the CLI verbs: flags, positionals, numbers. */
import { UsageError } from './types.ts';

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
