/**
 * A slice of the fuzz run (`npm run fuzz` runs 100,000+ cases): seeded
 * mutations of ELF objects, BTF and BTF.ext through parseElf, loadBtf,
 * loadCollectionSpec, dumpC, dumpRaw, dumpJson, the decoder and minCoreBtf, each case in
 * a watchdog'd worker process (test/fuzz/run.ts). Every outcome must be
 * success or a typed error: no untyped exception, hang or crash.
 */
import { describe, expect, it } from 'vitest';
import { formatSummary, runFuzz } from './fuzz/run.ts';

/** ~4 s of CPU per 10,000 cases on this box. */
const SLICE = 30_000;

describe('fuzz slice', () => {
  it(`${SLICE} seeded cases: ok or typed errors only, no hang, no crash`, async () => {
    const summary = await runFuzz({ start: 0, count: SLICE, jobs: 2, caseTimeoutMs: 30_000 });
    const text = formatSummary(summary);
    expect(summary.failures, text).toEqual([]);
    expect(summary.total).toBe(SLICE);
    // The mutations must reach past the parsers, and the parsers must reject plenty.
    expect(summary.counts.ok ?? 0).toBeGreaterThan(SLICE / 10);
    const typed = Object.entries(summary.counts).filter(([k]) => k.startsWith('typed:'));
    expect(typed.reduce((a, [, n]) => a + n, 0)).toBeGreaterThan(SLICE / 10);
    for (const code of ['BTF_MALFORMED', 'BTF_TRUNCATED', 'ELF_TRUNCATED', 'BAD_MAPS']) expect(summary.counts[`typed:${code}`], code).toBeGreaterThan(0);
  }, 300_000);

  it('the watchdog reports a hang with its case, and carries on', async () => {
    const summary = await runFuzz({ start: 0, count: 6, jobs: 1, caseTimeoutMs: 1500, hangOn: 2 });
    expect(summary.counts.timeout).toBe(1);
    expect(summary.failures).toMatchObject([{ case: 2, outcome: 'timeout' }]);
    expect(summary.total).toBe(6);
  }, 60_000);
});
