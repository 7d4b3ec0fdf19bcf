/**
 * The library bundle's entry (dist/chunks/tsbpf.cjs): the public API and, under
 * __testing, the test seam, so that both entries share one instance. Build glue:
 * users import lib/index.ts's names through dist/index.js or dist/index.cjs.
 */
export * from './index.ts';
export * as __testing from './testing.ts';
