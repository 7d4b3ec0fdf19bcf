/**
 * Mutation fuzzing of the ELF reader: every mutated input must either parse
 * (and then every accessor must succeed or throw ElfError) or be rejected
 * with ElfError. Anything else (RangeError, TypeError, a hang, a huge
 * allocation) fails. Deterministic: a seeded PRNG drives all mutations.
 */
import { describe, expect, it } from 'vitest';
import { ElfError, parseElf, type ElfFile } from '../elf/index.ts';
import { mulberry32 } from './fuzz/elf-helpers.ts';
import { elfSeeds as seeds, layoutOf, makeMutator, walkEverything } from './fuzz/elf-mutators.ts';

const ITERATIONS_PER_SEED = 1500;

describe('ELF reader under mutation', () => {
  const corpus = seeds();

  it.each(corpus.map((s) => [s.name, s] as const))('%s: mutated copies parse or throw ElfError', (_, seed) => {
    const layout = layoutOf(seed.bytes);
    const random = mulberry32(0x5eed ^ seed.bytes.length);
    const nextMutation = makeMutator(layout, random);
    const failures: string[] = [];
    const outcomes = { parsed: 0, rejected: 0 };
    let slowest = 0;
    for (let i = 0; i < ITERATIONS_PER_SEED; i++) {
      let bytes: Uint8Array = seed.bytes.slice();
      const applied: string[] = [];
      for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
        const [name, mutate] = nextMutation();
        applied.push(name);
        bytes = mutate(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      }
      const start = performance.now();
      try {
        walkEverything(parseElf(bytes));
        outcomes.parsed++;
      } catch (err) {
        if (err instanceof ElfError) outcomes.rejected++;
        else failures.push(`iteration ${i} (${applied.join(', ')}): ${(err as Error)?.stack ?? String(err)}`);
      }
      slowest = Math.max(slowest, performance.now() - start);
    }
    expect(failures.slice(0, 5)).toEqual([]);
    // Both outcomes must be common, or the mutations are not exercising anything.
    expect(outcomes.parsed).toBeGreaterThan(ITERATIONS_PER_SEED / 20);
    expect(outcomes.rejected).toBeGreaterThan(ITERATIONS_PER_SEED / 20);
    expect(slowest).toBeLessThan(1000);
  });

  it('every truncation of a small object is either parsed or rejected with ElfError', () => {
    const bytes = corpus.find((s) => s.name === 'synthetic-eb')!.bytes;
    for (let length = 0; length <= bytes.length; length++) {
      try {
        walkEverything(parseElf(bytes.subarray(0, length)));
        expect(length).toBe(bytes.length); // section headers are at the end: only the whole file parses
      } catch (err) {
        expect(err, `length ${length}`).toBeInstanceOf(ElfError);
      }
    }
  });

  it('a header claiming a 4 GB section does not allocate 4 GB', () => {
    for (const seed of corpus) {
      const layout = layoutOf(seed.bytes);
      for (let i = 1; i < layout.shnum; i++) {
        const bytes = seed.bytes.slice();
        const view = new DataView(bytes.buffer);
        view.setBigUint64(layout.shoff + i * 64 + 32, 0xffffffffn, layout.littleEndian);
        const before = process.memoryUsage();
        let elf: ElfFile | undefined;
        try {
          elf = parseElf(bytes);
          walkEverything(elf);
        } catch (err) {
          expect(err).toBeInstanceOf(ElfError);
        }
        const after = process.memoryUsage();
        expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(256 * 1024 * 1024);
        expect(after.rss - before.rss).toBeLessThan(1024 * 1024 * 1024);
        // Only a NOBITS (or NULL) section may keep such a size, and it then has no data.
        if (elf) {
          const section = elf.sections[i]!;
          if (section.size === 0xffffffff) expect(section.data.length).toBe(0);
        }
      }
    }
  });
});
