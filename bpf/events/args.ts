/**
 * Checks for the sizes, counts and indexes the event-stream APIs take: each
 * one ends up in a system call or a mapped view, so a bad one must stop with
 * a typed error before it gets there (never a RangeError from a typed array,
 * never a silently odd result).
 */
import { TsbpfError } from '../../errors.ts';

/** An argument or option out of its range. `code` is BAD_ARGUMENT (or BAD_OPTION for options); `argument` names it. */
export class EventArgumentError extends TsbpfError {
  declare readonly code: 'BAD_ARGUMENT' | 'BAD_OPTION';
  readonly argument: string;
  constructor(argument: string, why: string, code: 'BAD_ARGUMENT' | 'BAD_OPTION' = 'BAD_ARGUMENT') {
    super(code, `${argument} ${why}`);
    this.argument = argument;
  }
}

function show(v: unknown): string {
  return typeof v === 'number' || typeof v === 'bigint' ? String(v) : typeof v === 'string' ? `'${v}'` : typeof v;
}

/** An integer in [min, max]. */
export function checkInt(name: string, v: unknown, min: number, max: number, code: 'BAD_ARGUMENT' | 'BAD_OPTION' = 'BAD_ARGUMENT'): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new EventArgumentError(name, `must be an integer from ${min} to ${max}, got ${show(v)}`, code);
  }
  return v;
}

/** An index into `count` things (rings of a reader). */
export function checkIndex(name: string, v: unknown, count: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= count) {
    throw new EventArgumentError(name, count ? `must be an index from 0 to ${count - 1}, got ${show(v)}` : `${show(v)} is out of range: there are none`);
  }
  return v;
}

/** A positive count, or Infinity for "no limit". */
export function checkLimit(name: string, v: unknown): number {
  if (v === Infinity) return v;
  return checkInt(name, v, 1, Number.MAX_SAFE_INTEGER);
}

/** A callback given where records are delivered: a non-function would throw on the first record, which would then count as consumed. */
export function checkCallback(name: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'function') throw new EventArgumentError(name, `must be a function, got ${show(v)}`);
}
