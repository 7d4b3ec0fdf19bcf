/**
 * Object and BTF files are untrusted: reading one is bounded (regular files
 * only, at most MAX_FILE_BYTES), and every failure of reading or parsing one
 * is a typed error. Before: /dev/zero was read until memory ran out (7.2 GB
 * in 34 s), a missing file gave Node's plain ENOENT, and a .bss or .kconfig of
 * 2 GiB .. 1 TiB threw RangeError from `new Uint8Array`.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, ftruncateSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Btf } from '../btf/btf.ts';
import { loadBtfFile } from '../btf/load.ts';
import { btfDump } from '../lib/commands/btf.ts';
import { loadCollectionSpec, MAX_DATA_SECTION_BYTES } from '../bpf/loader/collection-spec.ts';
import { FileReadError, MAX_FILE_BYTES, parseElf } from '../elf/index.ts';
import { TsbpfError } from '../errors.ts';
import { thrown } from './helpers/thrown.ts';

const dir = mkdtempSync(join(tmpdir(), 'tsbpf-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const OBJ = join(import.meta.dirname, 'bpf/loader.o');

describe('reading files', () => {
  it.each(['/dev/zero', '/dev/urandom', '/dev/null'])('%s is refused at once, not read without end', (dev) => {
    const t0 = Date.now();
    for (const f of [() => loadCollectionSpec(dev), () => loadBtfFile(dev)]) {
      const e = thrown(f);
      expect(e).toBeInstanceOf(FileReadError);
      expect(e).toMatchObject({ code: 'FILE_NOT_REGULAR', path: dev });
    }
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a FIFO is refused without waiting for a writer; a directory too', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(thrown(() => loadCollectionSpec(fifo))).toMatchObject({ code: 'FILE_NOT_REGULAR', path: fifo });
    expect(thrown(() => loadBtfFile(dir))).toMatchObject({ code: 'FILE_NOT_REGULAR', path: dir });
  });

  it('a missing file is a typed ENOENT naming the path', () => {
    const p = join(dir, 'missing.o');
    for (const f of [() => loadCollectionSpec(p), () => loadBtfFile(p)]) {
      const e = thrown(f);
      expect(e).toBeInstanceOf(TsbpfError);
      expect(e).toMatchObject({ code: 'ENOENT', path: p });
      expect(e.message).toContain(p);
    }
  });

  it('a file over the cap is refused from its size, not read (sparse: no disk used)', () => {
    const p = join(dir, 'huge.o');
    const fd = openSync(p, 'w');
    ftruncateSync(fd, MAX_FILE_BYTES + 1);
    closeSync(fd);
    const t0 = Date.now();
    expect(thrown(() => loadCollectionSpec(p))).toMatchObject({ code: 'FILE_TOO_LARGE', path: p });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a real object and vmlinux still read whole', () => {
    expect(Object.keys(loadCollectionSpec(OBJ).maps)).toContain('percpu');
    expect(loadBtfFile('/sys/kernel/btf/vmlinux').btf.count).toBeGreaterThan(1000);
  });

  it('the CLI refuses /dev/zero with a typed error', () => {
    const e = thrown(() => btfDump('/dev/zero', { format: 'c' }));
    expect(e).toBeInstanceOf(TsbpfError);
    expect(e.message).toContain('not a regular file');
  });
});

/** loader.o with the 64-bit section header field at `field` of section `name` set to `v`. */
function withShdr(name: string, field: number, v: bigint): Uint8Array {
  const bytes = new Uint8Array(readFileSync(OBJ));
  const elf = parseElf(bytes);
  const shoff = Number(new DataView(bytes.buffer).getBigUint64(40, true));
  new DataView(bytes.buffer).setBigUint64(shoff + 64 * elf.section(name)!.index + field, v, true);
  return bytes;
}

describe('collection specs from hostile objects: typed errors', () => {
  it.each([2n ** 31n, 2n ** 32n, 2n ** 33n, 2n ** 40n, 2n ** 63n])('.bss of %i bytes', (size) => {
    const e = thrown(() => loadCollectionSpec(withShdr('.bss', 32, size)));
    expect(e).toBeInstanceOf(TsbpfError);
    // Past 2^53 the ELF reader already refuses the size.
    expect(e.code).toBe(size < 2n ** 53n ? 'BAD_DATA_SECTION' : 'ELF_MALFORMED');
  });

  it('.bss of exactly the cap is accepted (lazily zeroed memory)', () => {
    expect(loadCollectionSpec(withShdr('.bss', 32, BigInt(MAX_DATA_SECTION_BYTES))).maps['.bss']!.valueSize).toBe(MAX_DATA_SECTION_BYTES);
  });

  it('.kconfig externs claiming 8 GiB', () => {
    // Point two kconfig VARs at an int array whose nelems is set to 0x3fffffff (4 GiB - 4 each).
    const bytes = new Uint8Array(readFileSync(OBJ));
    const sec = parseElf(bytes).section('.BTF')!;
    const btf = Btf.parse(sec.data);
    const words = btf.rawTypes().offsets;
    const at = (id: number, w: number) => sec.offset + btf.header.hdrLen + btf.header.typeOff + 4 * (words[id - 1]! + w);
    const dv = new DataView(bytes.buffer);
    const arr = [...btf.types()].find((t) => t.kind === 'array' && btf.resolve(t.type).kind === 'int')!;
    dv.setUint32(at(arr.id, 5), 0x3fffffff, true);
    for (const v of ['CONFIG_HZ', 'LINUX_KERNEL_VERSION']) dv.setUint32(at(btf.getByName(v, 'var').id, 2), arr.id, true);
    const e = thrown(() => loadCollectionSpec(bytes));
    expect(e).toBeInstanceOf(TsbpfError);
    expect(e.code).toBe('BAD_DATA_SECTION');
  });

  it.each([
    ['maps', 56, 2n ** 63n],
    ['maps', 32, 2n ** 63n],
    ['.symtab', 56, 2n ** 63n],
    ['.data', 32, 2n ** 40n],
    ['.maps', 32, 2n ** 63n],
  ] as const)('%s field %i = %i', (name, field, v) => {
    const obj = name === 'maps' ? join(import.meta.dirname, 'bpf/loader_legacy_maps.o') : OBJ;
    const bytes = new Uint8Array(readFileSync(obj));
    const elf = parseElf(bytes);
    const shoff = Number(new DataView(bytes.buffer).getBigUint64(40, true));
    new DataView(bytes.buffer).setBigUint64(shoff + 64 * elf.section(name)!.index + field, v, true);
    try {
      loadCollectionSpec(bytes);
    } catch (e) {
      expect(e).toBeInstanceOf(TsbpfError);
    }
  });
});
