/**
 * `tsbpf gen skeleton`: a module for every test object and the shipped
 * example generates, is deterministic, and type-checks under
 * `tsc --strict --noUncheckedIndexedAccess` (one tsc run over all of them,
 * with user programs written against them: those must compile, and a file of
 * typos must fail exactly where expected); the user programs then run
 * against the real kernel (execsnoop: load, attach, exec, a typed event,
 * close, fds back to baseline; typed maps, variables and maps of maps).
 * The `gen skeleton` CLI compiles a C source with clang and names the
 * package to install when clang is missing.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCollectionSpec } from '../bpf/loader/collection-spec.ts';
import { generateSkeleton } from '../lib/gen/skeleton.ts';
import { TsTypes } from '../lib/gen/ts-types.ts';
import { BtfBuilder } from '../btf/builder.ts';
import { btfCodec } from '../btf/codec.ts';
import { ktest } from './helpers/kernel.ts';

const root = resolve(__dirname, '..');
const work = join(root, 'node_modules', `.tsbpf-skel-${process.pid}`);
const objects = [
  ...readdirSync(join(root, 'test/bpf'))
    .filter((f) => f.endsWith('.o'))
    .map((f) => join(root, 'test/bpf', f)),
  ...readdirSync(join(root, 'examples'))
    .filter((f) => f.endsWith('.o'))
    .map((f) => join(root, 'examples', f)),
];
/** Objects with sections no convention names: loadCollectionSpec refuses them without programTypes, so no skeleton. */
const UNNAMED_SECTIONS = new Set(['core_local.o', 'loader_unknown_section.o']);
const base = (f: string) => f.split('/').pop()!;
const objName = (f: string) => base(f).replace(/\.(bpf\.)?o$/, '');

function gen(file: string): string {
  const bytes = readFileSync(file);
  return generateSkeleton(loadCollectionSpec(bytes, { name: objName(file) }), bytes, { source: base(file) });
}

const cli = (args: string[], env?: NodeJS.ProcessEnv) => spawnSync(process.execPath, [join(root, 'dist/cli.js'), ...args], { encoding: 'utf8', env: env ?? process.env });

// User programs, written as a user would: no casts, no offsets.
const EXECSNOOP_USER = `
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { RingBufferReader } from 'tsbpf';
import { load, type event } from './execsnoop.skel.ts';

const fds = () => readdirSync('/proc/self/fd').length;
const before = fds();
let got: event | undefined;
{
  using skel = load({ rodata: { target_ppid: process.pid } });
  const ppid: number = skel.variables.target_ppid.get();
  const links = skel.attach();
  using reader = new RingBufferReader(skel.maps.events);
  spawnSync('/bin/true');
  for await (const e of reader.records({ codec: skel.types.event, signal: AbortSignal.timeout(20000) })) {
    if (e.ppid === ppid) {
      got = e;
      break;
    }
  }
  if (!links.handle_exec) throw new Error('not attached');
}
console.log(JSON.stringify({ got, before, after: fds() }));
`;

const MAPS_USER = `
import { readdirSync } from 'node:fs';
import { sumPerCpu } from 'tsbpf';
import * as codec from './codec_types.skel.ts';
import * as loader from './loader.skel.ts';

const fds = () => readdirSync('/proc/self/fd').length;
const before = fds();
const out: Record<string, unknown> = {};
{
  using skel = codec.load({ rodata: { limit: 7, origin: { x: 3, y: -4 } }, data: { last_comm: 'init' } });
  out.limit = skel.variables.limit.get();
  const origin: codec.point = skel.variables.origin.get();
  out.origin = origin;
  out.last_comm = skel.variables.last_comm.get();
  const s: codec.stats = skel.variables.global_stats.get();
  skel.variables.global_stats.set({ ...s, count: 41n, comm: 'skel' });
  out.count = skel.variables.global_stats.get().count.toString();
  const key: codec.key = { pid: 7, name: 'seven' };
  skel.maps.stats_by_key.set(key, { ...s, min_time: 9n, color: codec.color.BLUE });
  const back = skel.maps.stats_by_key.get(key);
  out.min_time = back?.min_time.toString();
  out.color = back?.color;
  const perCpu: bigint[] | undefined = skel.maps.counters.get(0);
  out.counters = perCpu && sumPerCpu(perCpu).toString();
}
{
  using skel = loader.load();
  const inner = skel.maps.outer.get(0);
  out.innerTyped = inner !== undefined;
  if (inner) {
    inner.set(0, 42);
    out.innerValue = skel.maps.inner1.get(0);
    inner.map.close();
  }
  const made = skel.maps.outer.createInner('made');
  made.set(0, 5);
  skel.maps.outer.set(1, made);
  out.madeId = skel.maps.outer.innerId(1) !== undefined;
  made.map.close();
}
console.log(JSON.stringify({ out, before, after: fds() }));
`;

const PROCSTATS_USER = `
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { load, type stats } from './proc_stats.skel.ts';

const fds = () => readdirSync('/proc/self/fd').length;
const before = fds();
let found: { pid: number; execs: string; comm: string } | undefined;
{
  using skel = load();
  skel.attach();
  const child = spawnSync('/bin/true');
  for (const [pid, s] of skel.maps.by_pid.entries()) {
    const st: stats = s;
    if (pid === child.pid) found = { pid, execs: st.execs.toString(), comm: st.comm };
  }
}
console.log(JSON.stringify({ found, before, after: fds() }));
`;

/** test/bpf/gen_hostile.o's placeholder names and the hostile names of the same length written over them. */
const HOSTILE_NAMES: Record<string, string> = {
  QQmap_aaa: '__proto__',
  QQmap_bbbbb: 'constructor',
  QQmap_ccc: 'a"b\\c*/\nd',
  QQvar_aaa: '__proto__',
  QQvar_bb: 'toString',
  QQvar_c: "v'\u2028\"w",
  QQprog_aaaa: 'constructor',
  QQprog_bb: '__proto__',
  QQstructa: '__proto__',
  QQstrb: 'a"b*/c',
  QQmemb_aa: '__proto__',
  QQmemb_bbbb: 'constructor',
  QQmemc: `"'\\\n*/`,
};

/** gen_hostile.o with every placeholder (in .strtab, .BTF and the line info's source text) overwritten. */
function hostileObject(): Buffer {
  const b = Buffer.from(readFileSync(join(root, 'test/bpf/gen_hostile.o')));
  for (const [placeholder, name] of Object.entries(HOSTILE_NAMES)) {
    const to = Buffer.from(name);
    if (to.length !== placeholder.length) throw new Error(`${placeholder}: ${JSON.stringify(name)} is ${to.length} bytes`);
    for (let i = b.indexOf(placeholder); i >= 0; i = b.indexOf(placeholder, i + 1)) to.copy(b, i);
  }
  return b;
}

const HOSTILE_USER = `
import { readdirSync } from 'node:fs';
import { load } from './hostile_names.skel.ts';

const fds = () => readdirSync('/proc/self/fd').length;
const before = fds();
const out: Record<string, unknown> = {};
{
  using skel = load({ rodata: { toString: 5 }, data: { ['__proto__']: 3, "v'\\u2028\\"w": 9n } });
  skel.maps['__proto__'].set(1, { ['__proto__']: 1, constructor: 2, "\\"'\\\\\\n*/": 3 });
  const v = skel.maps['__proto__'].get(1);
  out.fields = v && Object.keys(v);
  out.protoField = v?.['__proto__'];
  out.ctorField = v?.constructor;
  skel.maps.constructor.set(0, { x: 7n });
  out.ctorMap = skel.maps.constructor.get(0)?.x.toString();
  skel.maps['a"b\\\\c*/\\nd'].set(0, 11n);
  out.quoted = skel.maps['a"b\\\\c*/\\nd'].get(0)?.toString();
  out.protoVar = skel.variables['__proto__'].get();
  out.toStringVar = skel.variables.toString.get();
  out.unicodeVar = skel.variables["v'\\u2028\\"w"].get().toString();
  out.progs = [skel.programs.constructor.fd > 0, skel.programs['__proto__'].fd > 0];
}
console.log(JSON.stringify({ out, before, after: fds() }));
`;

/** Each line is one mistake tsc must reject (the comment says which). */
const TYPOS = [
  `import { load } from './execsnoop.skel.ts';`,
  `const skel = load();`,
  `skel.maps.event.map; // EXPECT: map name typo`,
  `skel.variables.target_pid.get(); // EXPECT: variable name typo`,
  `skel.variables.target_ppid.set(1); // EXPECT: rodata has no set()`,
  `load({ rodata: { target_ppid: 1n } }); // EXPECT: wrong type for a rodata value`,
  `skel.programs.handle_execve.fd; // EXPECT: program name typo`,
  `const n: string = skel.variables.target_ppid.get(); // EXPECT: number is no string`,
  `skel.close();`,
];

describe('gen skeleton', () => {
  const generated = new Map<string, string>();

  beforeAll(() => {
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('generates a module for every test object and the example, the same bytes twice', () => {
    for (const f of objects) {
      if (UNNAMED_SECTIONS.has(base(f))) {
        expect(() => loadCollectionSpec(f)).toThrow(expect.objectContaining({ code: 'UNKNOWN_SECTION' }));
        continue;
      }
      const src = gen(f);
      expect(gen(f), `${base(f)}: deterministic`).toBe(src);
      generated.set(objName(f), src);
      writeFileSync(join(work, `${objName(f)}.skel.ts`), src);
    }
    expect(generated.size).toBe(objects.length - UNNAMED_SECTIONS.size);
    const ex = generated.get('execsnoop')!;
    expect(ex).toContain(`import * as tsbpf from 'tsbpf';`);
    expect(ex).toMatch(/export interface event \{\n  pid: number;\n  ppid: number;\n  uid: number;\n  comm: string;\n  filename: string;\n\}/);
    expect(ex).toContain('readonly target_ppid: tsbpf.SkeletonConstant<number>;');
    expect(ex).toContain('readonly event: tsbpf.Codec<event>;');
  });

  it('--type names a type no map or variable reaches; C names are sanitized and collisions resolved', () => {
    const bytes = readFileSync(join(root, 'test/bpf/codec_types.o'));
    const spec = loadCollectionSpec(bytes, { name: 'codec_types' });
    const src = generateSkeleton(spec, bytes, { types: ['point'], name: 'Codec' });
    expect(src).toContain('readonly point: tsbpf.Codec<point>;');
    expect(src).toContain('export interface CodecMaps {');
    expect(() => generateSkeleton(spec, bytes, { types: ['no_such_type'] })).toThrow(expect.objectContaining({ code: 'NO_BTF_TYPE' }));
  });

  it('C names become TS names deterministically: kinds sharing a name, reserved words, hostile names', () => {
    const b = new BtfBuilder();
    const int = b.add({ kind: 'int', name: 'int', size: 4, encoding: 'signed', bitOffset: 0, bits: 32 });
    const m = (name: string, i = 0) => ({ name, type: int, bitOffset: 32 * i, bitfieldSize: 0 });
    const ids = [
      b.add({ kind: 'union', name: 'foo', size: 4, kindFlag: false, members: [m('u')] }),
      b.add({ kind: 'struct', name: 'foo', size: 4, kindFlag: false, members: [m('s')] }),
      b.add({ kind: 'enum', name: 'foo', size: 4, signed: false, values: [{ name: 'A', value: 1 }] }),
      b.add({ kind: 'struct', name: 'delete', size: 4, kindFlag: false, members: [m('x')] }),
      b.add({ kind: 'struct', name: 'Map', size: 4, kindFlag: false, members: [m('x')] }),
      b.add({ kind: 'struct', name: 'a*/b\nc', size: 8, kindFlag: false, members: [m('"); throw 1; ("'), m('__proto__', 1)] }),
      b.add({ kind: 'struct', name: 'a_b_c', size: 4, kindFlag: false, members: [m('y')] }),
    ];
    const btf = b.build();
    const names = () => {
      const t = new TsTypes(btf);
      for (const id of ids) t.visit(id);
      return t.finish().map((d) => [d.cName, d.kind, d.name]);
    };
    expect(names()).toEqual([
      ['Map', 'struct', 'Map_'],
      ['a*/b\nc', 'struct', 'a__b_c'],
      ['a_b_c', 'struct', 'a_b_c'],
      ['delete', 'struct', 'delete_'],
      ['foo', 'struct', 'foo'],
      ['foo', 'union', 'foo_union'],
      ['foo', 'enum', 'foo_enum'],
    ]);
    expect(names()).toEqual(names());
    // And the declarations compile (in the one tsc run below).
    const t = new TsTypes(btf);
    for (const id of ids) t.visit(id);
    writeFileSync(join(work, 'names.ts'), t.finish().map((d) => t.declaration(d)).join('\n'));
  });

  it('declarations say what the codec decodes, for a lying producer too: __proto__ enum names, repeated fields, 3-byte ints', () => {
    const b = new BtfBuilder();
    const int = b.add({ kind: 'int', name: 'int', size: 4, encoding: 'signed', bitOffset: 0, bits: 32 });
    const i24 = b.add({ kind: 'int', name: 'i24', size: 3, encoding: 'signed', bitOffset: 0, bits: 24 });
    const m = (name: string, type = int, i = 0) => ({ name, type, bitOffset: 32 * i, bitfieldSize: 0 });
    const ids = [
      b.add({ kind: 'enum', name: 'protoenum', size: 4, signed: false, values: [{ name: '__proto__', value: 1 }, { name: 'constructor', value: 2 }] }),
      b.add({ kind: 'struct', name: 'twice', size: 8, kindFlag: false, members: [m('a'), m('a', int, 1)] }),
      b.add({ kind: 'struct', name: 'odd', size: 4, kindFlag: false, members: [m('x', i24)] }),
    ];
    const btf = b.build();
    const t = new TsTypes(btf);
    for (const id of ids) t.visit(id);
    const src = t.finish().map((d) => t.declaration(d)).join('\n');
    // A plain "__proto__" key in an object literal sets the prototype: the constant would lack the name its type has.
    expect(src).toContain('["__proto__"]: 1,');
    // One declaration per name (tsc rejects a repeated one; btfCodec refuses such a struct, so no module reaches it).
    expect(src).toMatch(/export interface twice \{\n  a: number;\n\}/);
    // btfCodec decodes a 3-byte int as a bigint; the declaration must say so.
    const odd = btfCodec(btf, ids[2]!).decode(new Uint8Array(4), new DataView(new ArrayBuffer(4)), 0) as { x: unknown };
    expect(typeof odd.x).toBe('bigint');
    expect(src).toMatch(/export interface odd \{\n  x: bigint;\n\}/);
    writeFileSync(join(work, 'lying-decls.ts'), src + '\nif (!Object.hasOwn(protoenum, "__proto__")) throw new Error("lost");\n');
  });

  it('an object whose map, variable, program, type and member names are __proto__, constructor, quotes, newlines: a module all the same', () => {
    const bytes = hostileObject();
    const spec = loadCollectionSpec(bytes, { name: 'gen_hostile' });
    // Names from the object are names: none is taken by a prototype (constructor was a "duplicate", __proto__ vanished).
    expect(Object.keys(spec.programs).sort()).toEqual(['__proto__', 'constructor']);
    expect(Object.keys(spec.maps).sort()).toEqual(['.bss', '.data', '.rodata', '__proto__', 'a"b\\c*/\nd', 'constructor']);
    expect(Object.keys(spec.variables).sort()).toEqual(['__proto__', 'toString', "v'\u2028\"w"]);
    const src = generateSkeleton(spec, bytes, { source: 'gen\nhostile*/.o' });
    expect(src).toContain('readonly "__proto__": tsbpf.TypedMap<number, __proto__>;');
    expect(src).toContain('readonly constructor: tsbpf.Program;');
    // Nothing from the object reaches the code outside strings: the only statements are the generator's own.
    expect(src.split('\n').filter((l) => /^(const|export function|import) /.test(l))).toHaveLength(4);
    writeFileSync(join(work, 'hostile_names.skel.ts'), src);
    writeFileSync(join(work, 'user-hostile.ts'), HOSTILE_USER); // compiled in the one tsc run below, run against the kernel after
  });

  it('the CLI writes the same module as the generator, and compiles a C source first', () => {
    const out = join(work, 'cli-execsnoop.ts');
    const r = cli(['gen', 'skeleton', join(root, 'examples/execsnoop.bpf.o'), '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // Same module as the library gives, but for the file name in the header.
    expect(readFileSync(out, 'utf8')).toBe(gen(join(root, 'examples/execsnoop.bpf.o')));
    const c = cli(['gen', 'skeleton', join(root, 'examples/execsnoop.bpf.c'), '--name', 'Snoop', '-o', join(work, 'execsnoop_c.skel.ts')]);
    expect(c.stderr).toBe('');
    expect(c.status).toBe(0);
    expect(readFileSync(join(work, 'execsnoop_c.skel.ts'), 'utf8')).toContain('export type SnoopSkeleton = ');
    // A source against vmlinux.h (written by tsbpf from the BTF given).
    const v = cli(['gen', 'skeleton', join(root, 'test/fixtures/gen/proc_stats.bpf.c'), '--btf', '/sys/kernel/btf/vmlinux', '-o', join(work, 'proc_stats.skel.ts')]);
    expect(v.stderr).toBe('');
    expect(v.status).toBe(0);
    expect(readFileSync(join(work, 'proc_stats.skel.ts'), 'utf8')).toContain('readonly by_pid: tsbpf.TypedMap<number, stats>;');
  }, 60_000);

  it('a missing clang is NO_CLANG naming the Debian package; bad arguments exit 2', () => {
    const empty = join(work, 'empty-path');
    mkdirSync(empty, { recursive: true });
    const r = cli(['gen', 'skeleton', join(root, 'examples/execsnoop.bpf.c')], { ...process.env, PATH: empty });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('apt-get install clang');
    expect(r.stderr).toContain('[NO_CLANG]');
    const u = cli(['gen', 'skeleton']);
    expect(u.status).toBe(2);
    expect(u.stderr).toContain('usage: tsbpf gen skeleton');
    const b = cli(['gen', 'skeleton', join(root, 'examples/execsnoop.bpf.o'), '--btf', '/sys/kernel/btf/vmlinux']);
    expect(b.status).toBe(2);
  });

  it('every module and the user programs type-check with --strict --noUncheckedIndexedAccess; typos do not', () => {
    expect(generated.size).toBeGreaterThan(0);
    writeFileSync(join(work, 'user-execsnoop.ts'), EXECSNOOP_USER);
    writeFileSync(join(work, 'user-maps.ts'), MAPS_USER);
    writeFileSync(join(work, 'user-procstats.ts'), PROCSTATS_USER);
    writeFileSync(join(work, 'typos.ts'), TYPOS.join('\n') + '\n');
    // The README's skeleton example, as written.
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Typed skeletons'), readme.indexOf('\n## ', readme.indexOf('## Typed skeletons') + 1));
    const snippet = /```ts\n([\s\S]*?)```/.exec(section);
    expect(snippet, 'a ts block in the README skeleton section').not.toBeNull();
    writeFileSync(join(work, 'readme-skel.ts'), snippet![1]!);
    // 'tsbpf' resolves to the built package's declarations, as in a user project.
    writeFileSync(
      join(work, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noUncheckedIndexedAccess: true,
          noEmit: true,
          target: 'es2022',
          lib: ['es2022', 'esnext.disposable'],
          module: 'nodenext',
          moduleResolution: 'nodenext',
          allowImportingTsExtensions: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(root, 'node_modules/@types')],
          paths: { tsbpf: [join(root, 'dist/index.d.ts')] },
        },
        include: ['*.ts'],
      }),
    );
    const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(work, 'tsconfig.json')], { encoding: 'utf8', cwd: work });
    // tsc names files relative to cwd through real paths: a symlinked node_modules prints ../../x/typos.ts
    const errors = r.stdout
      .split('\n')
      .filter((l) => /error TS/.test(l))
      .map((l) => l.replace(/^[^(]*\/(?=[^/(]+\.ts\()/, ''));
    const elsewhere = errors.filter((l) => !l.startsWith('typos.ts('));
    expect(elsewhere, 'errors outside typos.ts').toEqual([]);
    const lines = new Set(errors.map((l) => Number(/^typos\.ts\((\d+),/.exec(l)![1])));
    const expected = TYPOS.map((l, i) => (l.includes('EXPECT') ? i + 1 : 0)).filter(Boolean);
    expect([...lines].sort((a, b) => a - b)).toEqual(expected);
  }, 120_000);

  const run = (file: string) => {
    const out = join(work, file.replace(/\.ts$/, '.mjs'));
    buildSync({
      entryPoints: [join(work, file)],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ['koffi'],
      alias: { tsbpf: join(root, 'lib/index.ts') },
      outfile: out,
      logLevel: 'silent',
    });
    const r = spawnSync(process.execPath, [out], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as { before: number; after: number } & Record<string, unknown>;
  };

  ktest('a program against the execsnoop skeleton loads, attaches, reads a typed event of an exec and closes (fds back)', () => {
    const r = run('user-execsnoop.ts') as { got?: { pid: number; ppid: number; comm: string; filename: string }; before: number; after: number };
    expect(r.got).toBeDefined();
    expect(r.got!.ppid).toBeGreaterThan(0);
    expect(r.got!.filename).toMatch(/true$/);
    expect(r.after).toBe(r.before);
  }, { timeout: 90_000 });

  ktest('typed maps, variables (rodata and data set before load) and maps of maps through skeletons', () => {
    const r = run('user-maps.ts') as { out: Record<string, unknown>; before: number; after: number };
    expect(r.out).toEqual({
      limit: 7,
      origin: { x: 3, y: -4 },
      last_comm: 'init',
      count: '41',
      min_time: '9',
      color: -3,
      counters: '0',
      innerTyped: true,
      innerValue: 42,
      madeId: true,
    });
    expect(r.after).toBe(r.before);
  }, { timeout: 90_000 });

  ktest('a skeleton of hostile names loads: __proto__ and constructor maps, variables, programs and fields work as names', () => {
    const r = run('user-hostile.ts') as { out: Record<string, unknown>; before: number; after: number };
    expect(r.out).toEqual({
      fields: ['__proto__', 'constructor', `"'\\\n*/`],
      protoField: 1,
      ctorField: 2,
      ctorMap: '7',
      quoted: '11',
      protoVar: 3,
      toStringVar: 5,
      unicodeVar: '9',
      progs: [true, true],
    });
    expect(r.after).toBe(r.before);
  }, { timeout: 90_000 });

  ktest('a per-process stats program compiled from C against vmlinux.h: struct values with char comm[16], typed', () => {
    const r = run('user-procstats.ts') as { found?: { pid: number; execs: string; comm: string }; before: number; after: number };
    expect(r.found).toMatchObject({ execs: '1', comm: 'true' });
    expect(r.after).toBe(r.before);
  }, { timeout: 90_000 });
});
