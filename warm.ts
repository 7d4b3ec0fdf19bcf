/**
 * Tells the code-cache loader (lib/code-cache.ts) what work this process did,
 * so that the cache it writes at exit is replaced when a process compiled code
 * the cached one had not (a first object load, say). A no-op when tsbpf was
 * not loaded through the cache (tests, bundlers).
 */
/** Where the loader puts its hook: a registered symbol, so that every copy of tsbpf in a process finds it. */
export const WARM_HOOK = Symbol.for('tsbpf.codeCache.warm');

export function markWarm(tag: string): void {
  const f = (globalThis as Record<symbol, unknown>)[WARM_HOOK];
  if (typeof f === 'function') (f as (t: string) => void)(tag);
}
