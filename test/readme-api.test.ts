/**
 * The README's API section lists exactly the public names: every export of
 * lib/index.ts and lib/testing.ts appears there, and nothing else does.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;

function exportedNames(file: string): string[] {
  const src = readFileSync(root + file, 'utf8');
  const names: string[] = [];
  for (const m of src.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const part of m[1]!.split(',')) {
      const n = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()!.trim();
      if (n) names.push(n);
    }
  }
  return names;
}

function apiSection(): string {
  const readme = readFileSync(root + 'README.md', 'utf8');
  const start = readme.indexOf('\n## API\n');
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end);
}

describe('README API section', () => {
  it('lists every public name of tsbpf and tsbpf/testing, and only those', async () => {
    const exported = new Set([...exportedNames('lib/index.ts'), ...exportedNames('lib/testing.ts')]);
    const api = apiSection();
    const listed = new Set([...api.matchAll(/`([A-Za-z_$][\w$]*)`/g)].map((m) => m[1]!));
    listed.delete('tsbpf');
    const missing = [...exported].filter((n) => !listed.has(n));
    const extra = [...listed].filter((n) => !exported.has(n));
    expect({ missing, extra }).toEqual({ missing: [], extra: [] });
    // The runtime entry exports nothing that is not listed.
    const mod = await import('../lib/index.ts');
    expect(Object.keys(mod).filter((n) => !listed.has(n))).toEqual([]);
    expect(readFileSync(root + 'lib/index.ts', 'utf8')).not.toMatch(/export \*/);
  });
});
