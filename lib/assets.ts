/** Files shipped in the package (example BPF objects), found from the running module. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TsbpfError } from '../errors.ts';

/** The package root: the nearest directory above this module with tsbpf's package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tsbpf') return dir;
    const up = dirname(dir);
    if (up === dir) throw new TsbpfError('NO_PACKAGE_ROOT', 'tsbpf: cannot find the package root');
    dir = up;
  }
}

export function examplePath(file: string): string {
  return join(packageRoot(), 'examples', file);
}
