/**
 * The CLI's argument handling, run as a user would (node dist/cli.js, built by
 * `npm test`): every bad argument exits 2 with the verb's usage line, groups
 * and verbs answer --help, errors are one line with their code; prog/map show
 * select one object; prog loadall leaves nothing behind when it fails; and
 * permission errors name what is really missing (checked in child processes
 * with dropped capabilities, or as user nobody, through setpriv).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BpfMap } from '../bpf/maps/map.ts';
import { ktest, pintest } from './helpers/kernel.ts';

const root = resolve(__dirname, '..');
const cli = resolve(root, 'dist/cli.js');
const obj = (name: string) => resolve(root, 'test/bpf', name);
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
const NOBODY = ['--reuid=nobody', '--regid=nogroup', '--clear-groups'];

/**
 * The CLI and test objects where user nobody can read them. A checkout may sit
 * under a directory closed to other users (mktemp -d is 0700, home directories
 * often are): there nobody could not even start the CLI. Copied once: the
 * bundle, koffi with its native build, package.json (for "type": "module")
 * and the objects.
 */
let nobodyRoot: string | undefined;
function readableByNobody(): string {
  if (nobodyRoot) return nobodyRoot;
  const d = mkdtempSync('/tmp/tsbpf-nobody-');
  dirs.push(d);
  cpSync(resolve(root, 'package.json'), `${d}/package.json`);
  cpSync(resolve(root, 'dist'), `${d}/dist`, { recursive: true, filter: (src) => !src.endsWith('.map') });
  // koffi and its native build (a per-platform package under @koromix).
  for (const m of ['koffi', '@koromix']) {
    if (existsSync(resolve(root, 'node_modules', m))) cpSync(resolve(root, 'node_modules', m), `${d}/node_modules/${m}`, { recursive: true });
  }
  cpSync(resolve(root, 'test/bpf'), `${d}/test/bpf`, { recursive: true });
  execFileSync('chmod', ['-R', 'a+rX', d]);
  return (nobodyRoot = d);
}

/** Run the CLI through setpriv (dropped capabilities, another user: then from the copy nobody can read). */
const runAs = (setpriv: string[], ...args: string[]) => {
  const asNobody = setpriv.includes(NOBODY[0]!);
  const cliPath = asNobody ? `${readableByNobody()}/dist/cli.js` : cli;
  return spawnSync('setpriv', [...setpriv, process.execPath, cliPath, ...args], { encoding: 'utf8', timeout: 60_000 });
};
/** A test object, at the path nobody can read. */
const nobodyObj = (name: string) => `${readableByNobody()}/test/bpf/${name}`;
const bpftool = (...args: string[]) => JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8' }) || 'null');
const dirs: string[] = [];

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function pinDir(mode?: number): string {
  const d = mkdtempSync('/sys/fs/bpf/tsbpf-cliargs-');
  dirs.push(d);
  if (mode !== undefined) chmodSync(d, mode);
  return d;
}

/** A path under bpffs that does not exist yet (removed after the tests if a failure left it). */
function freshPath(tag: string): string {
  const p = `/sys/fs/bpf/tsbpf-cliargs-${process.pid}-${tag}`;
  rmSync(p, { recursive: true, force: true });
  dirs.push(p);
  return p;
}

const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at /);

describe('bad arguments exit 2 with the verb usage', () => {
  const p = `/sys/fs/bpf/tsbpf-cliargs-never-${process.pid}`;
  dirs.push(p);
  const cases: [string[], string][] = [
    [['map', 'create', p, 'type', 'hash', 'key', '4', 'value', '4', 'entries', '1', 'flags', '0xzz'], 'map create FILE'],
    [['map', 'create', p, 'type', 'nonsense', 'key', '4', 'value', '4', 'entries', '1'], 'map create FILE'],
    [['map', 'create', p, 'type', 'hash', 'key', '4', 'value', '4', 'entries', '-1'], 'map create FILE'],
    [['map', 'create', p, 'type', 'hash', 'key', '4', 'value'], 'map create FILE'],
    [['map', 'create', p, 'type', 'hash', 'key', '4', 'value', '4', 'entries', '1', 'colour', 'red'], 'map create FILE'],
    [['map', 'create'], 'map create FILE'],
    [['prog', 'loadall', obj('loader.o'), p, '--type', 'nonsense'], 'prog loadall OBJ DIR'],
    [['prog', 'loadall', obj('loader.o')], 'prog loadall OBJ DIR'],
    [['prog', 'loadall', obj('loader.o'), p, '--pinmaps'], 'prog loadall OBJ DIR'],
    [['execsnoop', '--duration', 'abc'], 'execsnoop [--duration'],
    [['execsnoop', '--duration', '-1'], 'execsnoop [--duration'],
    [['execsnoop', '--duration', '0'], 'execsnoop [--duration'],
    [['execsnoop', '--ppid', 'xyz'], 'execsnoop [--duration'],
    [['execsnoop', 'extra'], 'execsnoop [--duration'],
    [['map', 'show', 'id', 'abc'], 'map show'],
    [['map', 'show', 'id'], 'map show'],
    [['map', 'dump'], 'map dump'],
    [['prog', 'show', 'id'], 'prog show'],
    [['prog', 'show', 'id', '12x'], 'prog show'],
    [['prog', 'show', 'tag', 'nothex'], 'prog show'],
    [['prog', 'show', 'colour', 'red'], 'prog show'],
    [['prog', 'list', 'extra'], 'prog list'],
    [['prog', 'list', '--bogus'], 'prog list'],
    [['link', 'list', '--jsn'], 'link list'],
    [['obj', 'show'], 'obj show OBJ'],
    [['btf', 'dump'], 'btf dump FILE'],
    [['btf', 'dump', obj('loader.o'), '--format', 'yaml'], 'btf dump FILE'],
    [['demo', 'now'], 'demo'],
  ];
  for (const [args, usage] of cases) {
    it(args.join(' '), () => {
      const r = run(...args);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain(`usage: tsbpf ${usage}`);
      noStack(r.stderr);
    });
  }
  it('left nothing at the paths it was given', () => {
    expect(existsSync(p)).toBe(false);
  });
});

describe('groups, help and errors', () => {
  it('a group without a default verb alone lists its verbs; --help per group and per verb', () => {
    const g = run('cgroup');
    expect(g.status).toBe(2);
    expect(g.stdout).not.toContain('unknown command');
    for (const v of ['cgroup show', 'cgroup tree', 'cgroup attach']) expect(g.stdout).toContain(v);
    const m = run('map', '--help');
    expect(m.status).toBe(0);
    for (const v of ['map list', 'map show', 'map dump', 'map create']) expect(m.stdout).toContain(v);
    const h = run('prog', '--help');
    expect(h.status).toBe(0);
    for (const v of ['prog loadall', 'prog list', 'prog show']) expect(h.stdout).toContain(v);
    const v = run('map', 'create', '--help');
    expect(v.status).toBe(0);
    expect(v.stdout).toContain('usage: tsbpf map create FILE type TYPE');
    const e = run('execsnoop', '--help');
    expect(e.status).toBe(0);
    expect(e.stdout).toContain('usage: tsbpf execsnoop');
  });

  ktest('a group alone runs its first verb, as bpftool does (map, prog, link, btf, struct_ops: show; feature: probe; iter: help)', () => {
    // Objects this test holds, so that each list has something known in it (other test files load and unload meanwhile).
    using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1, name: 'alone_map' });
    const id = m.info().id;
    const json = (...args: string[]) => {
      const r = run(...args);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      return JSON.parse(r.stdout) as { id: number; name?: string }[];
    };
    expect(json('map', '-j').some((x) => x.id === id && x.name === 'alone_map')).toBe(true);
    // Leading options too: `tsbpf -j map` is `map show -j`.
    expect(json('-j', 'map').some((x) => x.id === id)).toBe(true);
    expect(Array.isArray(json('prog', '-j'))).toBe(true);
    expect(Array.isArray(json('link', '-j'))).toBe(true);
    expect(Array.isArray(json('struct_ops', '-j'))).toBe(true);
    // vmlinux BTF is object 1 of every kernel with BTF.
    expect(json('btf', '-j').some((x) => x.id === 1)).toBe(true);
    const plain = run('map');
    expect(plain.status).toBe(0);
    expect(plain.stdout).toMatch(new RegExp(`^${id}: array  name alone_map`, 'm'));
    const f = run('feature');
    expect(f.status, f.stderr).toBe(0);
    expect(f.stdout).toContain('Scanning system configuration...');
    expect(f.stdout).toBe(run('feature', 'probe').stdout);
    const i = run('iter');
    expect(i.status).toBe(0);
    expect(i.stdout).toContain('iter pin OBJ PATH');
  });

  it('an unknown verb in a group names the group', () => {
    const r = run('map', 'frob');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown map command 'frob'");
    expect(r.stderr).toContain('map create');
  });

  it('an untyped error inside a verb is one line and a non-zero exit', () => {
    const r = run('obj', 'show', '/nonexistent/x.o');
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('tsbpf obj show:');
    noStack(r.stderr);
  });

  ktest('a library error prints its code', () => {
    const r = run('prog', 'show', 'id', '4294967295');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\[ENOENT\]$/m);
  });
});

describe('prog show and map show select one object', () => {
  pintest('prog show id / pinned / name / tag print the prog list line', () => {
    const dir = pinDir();
    expect(run('prog', 'loadall', obj('loader.o'), dir).status).toBe(0);
    const b = bpftool('prog', 'show', 'pinned', `${dir}/run_socket`);
    // bpftool's block: the head line, then tab-indented detail lines
    const lines = run('prog', 'list').stdout.split('\n');
    const at = lines.findIndex((l) => l.startsWith(`${b.id}: `));
    expect(at).toBeGreaterThanOrEqual(0);
    let end = at + 1;
    while (end < lines.length && lines[end]!.startsWith('\t')) end++;
    const block = lines.slice(at, end).join('\n') + '\n';
    expect(block).toMatch(/^\d+: socket_filter {2}name run_socket {2}tag [0-9a-f]{16}/);
    expect(run('prog', 'show', 'id', String(b.id)).stdout).toBe(block);
    expect(run('prog', 'show', 'pinned', `${dir}/run_socket`).stdout).toBe(block);
    expect(run('prog', 'show', 'tag', b.tag).stdout).toContain(block);
    expect(run('prog', 'show', 'name', 'run_socket').stdout).toContain(block);
    const j = JSON.parse(run('prog', 'show', 'id', String(b.id), '--json').stdout);
    expect(j).toMatchObject({ id: b.id, type: 'socket_filter', name: 'run_socket', tag: b.tag });
    const none = run('prog', 'show', 'name', 'no_such_prog_x');
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('[ENOENT]');
  });

  ktest('map show name N', () => {
    using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1, name: `cliargs_${process.pid % 10000}` });
    // One map of that name: one object, as bpftool prints it (an array when several match).
    const row = JSON.parse(run('map', 'show', 'name', m.name, '--json').stdout) as { id: number };
    expect(row.id).toBe(m.info().id);
  });
});

describe('prog loadall leaves nothing behind when it fails', () => {
  pintest('as user nobody: no DIR, no --pinmaps DIR', () => {
    const dir = freshPath('nobody');
    const maps = freshPath('nobody-maps');
    const r = runAs(NOBODY, 'prog', 'loadall', nobodyObj('loader.o'), `${dir}/sub`, '--pinmaps', maps);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('[EPERM]');
    noStack(r.stderr);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(maps)).toBe(false);
  });

  pintest('a program too complex to verify: E2BIG with the verifier summary, and no DIR', () => {
    const dir = freshPath('e2big');
    const r = run('prog', 'loadall', obj('too_complex.o'), dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("program 'too_complex' is too large or too complex to verify (E2BIG)");
    expect(r.stderr).toMatch(/BPF program is too large|processed \d+ insns/);
    expect(r.stderr).not.toContain('ENOSPC');
    expect(existsSync(dir)).toBe(false);
  }, 120_000);

  it('a DIR off bpffs is refused before anything is made', () => {
    const base = `/tmp/tsbpf-cliargs-${process.pid}`;
    rmSync(base, { recursive: true, force: true });
    const r = run('prog', 'loadall', obj('loader.o'), `${base}/pins`);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('BAD_PIN_PATH');
    expect(existsSync(base)).toBe(false);
  });

  pintest('a pin that fails half-way takes back the pins and directories it made, and only those', () => {
    const maps = pinDir();
    using taken = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    taken.pin(`${maps}/counts`);
    const dir = freshPath('halfway');
    const r = run('prog', 'loadall', obj('loader.o'), dir, '--pinmaps', maps);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('EEXIST');
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(maps)).toEqual(['counts']);
  });
});

describe('permission errors say what is missing', () => {
  ktest('listing ids without CAP_SYS_ADMIN names CAP_SYS_ADMIN, not CAP_BPF or lockdown', () => {
    const noAdmin = ['--inh-caps=-sys_admin', '--bounding-set=-sys_admin'];
    const r = runAs(noAdmin, 'prog', 'list');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('EPERM');
    expect(r.stderr).toContain('CAP_SYS_ADMIN');
    expect(r.stderr).not.toContain('lockdown');
    const noBpf = ['--inh-caps=-sys_admin,-bpf', '--bounding-set=-sys_admin,-bpf'];
    for (const verb of [['map', 'list'], ['prog', 'show'], ['link', 'list']]) {
      const m = runAs(noBpf, ...verb);
      expect(m.status, verb.join(' ')).toBe(1);
      expect(m.stderr).toContain('needs CAP_SYS_ADMIN');
      expect(m.stderr).not.toContain('missing capability CAP_BPF');
    }
    // The library call itself, not only the CLI.
    const lib = spawnSync(
      'setpriv',
      [...noAdmin, process.execPath, '--input-type=module', '-e', `import { progIds } from ${JSON.stringify(resolve(root, 'dist/index.js'))}; try { [...progIds()]; } catch (e) { console.log(e.code, e.hint); }`],
      { encoding: 'utf8' },
    );
    expect(lib.stdout).toMatch(/^EPERM .*CAP_SYS_ADMIN/);
  });

  pintest('opening a root-only pin as nobody names the pin file and its mode and owner', () => {
    const open = pinDir(0o755);
    using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    m.pin(`${open}/m`);
    const r = runAs(NOBODY, 'map', 'show', 'pinned', `${open}/m`);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('EACCES');
    expect(r.stderr).toContain(`permission denied on the pin file ${open}/m (mode 0600, owner uid 0 gid 0)`);
    const closed = pinDir(0o700);
    m.pin(`${closed}/m`);
    const c = runAs(NOBODY, 'prog', 'show', 'pinned', `${closed}/m`);
    expect(c.status).toBe(1);
    expect(c.stderr).toContain(`its directory ${closed} (mode 0700, owner uid 0 gid 0)`);
  });
});
