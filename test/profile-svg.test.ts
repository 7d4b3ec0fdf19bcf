/**
 * The --svg flame graph in a real browser (headless Chromium): a profile of
 * a C target (hot_alpha:hot_beta CPU work 3:1, and write(2) calls so kernel
 * frames show) is screenshotted as a person
 * would open it, then a copy with a driver script appended fires real DOM
 * events at it (mouseover, click on frames, click on Search with the prompt
 * answered) and writes what the graph showed into the document, which
 * --dump-dom returns. Screenshots land in test-output/profile-svg/.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flameGraphSvg } from '../lib/profile/flamegraph.ts';
import type { Frame, FrameKind } from '../bpf/symbolize/index.ts';
import { chromiumPath, dumpDom, screenshot, testOutputDir } from './helpers/chromium.ts';
import { which } from './helpers/env.ts';
import { ktest } from './helpers/kernel.ts';
import { runProfile, startReady } from './helpers/profile.ts';

const FIXTURE = new URL('./fixtures/profile/', import.meta.url).pathname;
let work = '';
let target = '';

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tsbpf-profile-svg-'));
  if (!which('gcc')) return;
  target = join(work, 'busy');
  execFileSync('gcc', ['-O0', '-g', '-fno-omit-frame-pointer', '-pthread', '-o', target, join(FIXTURE, 'busy.c')]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs inside the SVG document after its own script: drives it and records what it showed. */
const DRIVER = String.raw`
(function () {
  var frames = Array.prototype.slice.call(document.querySelectorAll('.f'));
  function nameOf(g) { return g.querySelector('title').textContent.replace(/ \([0-9]+ [a-z]+, [0-9.]+%\)$/, ''); }
  // The widest frame of that name (a name can recur under other parents).
  function frame(name) {
    return frames.filter(function (g) { return nameOf(g) === name; }).sort(function (a, b) { return b.dataset.n - a.dataset.n; })[0];
  }
  function fire(el, type) { el.dispatchEvent(new MouseEvent(type, { bubbles: true, cancelable: true, view: window })); }
  function shown(g) { return getComputedStyle(g).display !== 'none'; }
  function box(g) {
    var r = g.querySelector('rect');
    return { shown: shown(g), x: +r.getAttribute('x'), width: +r.getAttribute('width'), label: g.querySelector('text').textContent, parent: g.classList.contains('parent') };
  }
  var alpha = frame('hot_alpha'), beta = frame('hot_beta'), main = frame('main');
  var detail = document.getElementById('detail'), matched = document.getElementById('matched');
  var reset = document.getElementById('reset'), search = document.getElementById('search');
  var out = {};
  out.titleAlpha = alpha.querySelector('title').textContent;
  fire(alpha, 'mouseover');
  out.hover = detail.textContent;
  fire(alpha, 'mouseout');
  out.afterMouseout = detail.textContent;
  out.before = { alpha: box(alpha), beta: box(beta), main: box(main), reset: getComputedStyle(reset).display };
  fire(beta, 'click');
  out.zoomed = { alpha: box(alpha), beta: box(beta), main: box(main), reset: getComputedStyle(reset).display };
  fire(reset, 'click');
  out.unzoomed = { alpha: box(alpha), beta: box(beta), main: box(main), reset: getComputedStyle(reset).display };
  var asked = [];
  function searchFor(term) {
    window.prompt = function (q) { asked.push(q); return term; };
    fire(search, 'click');
    return {
      matched: matched.textContent,
      hits: frames.filter(function (g) { return g.classList.contains('hit'); }).map(nameOf),
      hitFill: (function () { var h = frames.filter(function (g) { return g.classList.contains('hit'); })[0]; return h ? getComputedStyle(h.querySelector('rect')).fill : ''; })(),
    };
  }
  out.searchHot = searchFor('^hot_');
  out.searchAlpha = searchFor('hot_alpha');
  out.searchCleared = searchFor('');
  out.prompted = asked.length;
  // Kind -> the fills its frames get, to check kernel, user, process frames look apart.
  out.fills = {};
  frames.forEach(function (g) {
    var kind = g.classList[1];
    (out.fills[kind] = out.fills[kind] || []).push(g.querySelector('rect').getAttribute('fill'));
  });
  // Leave a state worth a screenshot: zoomed into the widest frame with kernel frames above it, the
  // vfs_ ones highlighted, the innermost kernel frame's parent hovered.
  var kernel = frames.filter(function (g) { return g.classList.contains('kernel'); }).sort(function (a, b) { return b.dataset.n - a.dataset.n; });
  var below = kernel.length ? frames.filter(function (g) { return +g.dataset.d === kernel[0].dataset.d - 1 && +g.dataset.x <= +kernel[0].dataset.x && +g.dataset.x + +g.dataset.w >= +kernel[0].dataset.x + +kernel[0].dataset.w; })[0] : main;
  fire(below || main, 'click');
  searchFor('vfs_');
  fire(kernel.length > 1 ? kernel[1] : alpha, 'mouseover');
  var pre = document.createElementNS('http://www.w3.org/2000/svg', 'text');
  pre.setAttribute('id', 'driver-result');
  pre.setAttribute('display', 'none');
  pre.textContent = JSON.stringify(out);
  document.documentElement.appendChild(pre);
})();
`;

function hue(fill: string): number {
  const m = /^hsl\((-?[0-9.]+),([0-9.]+)%,([0-9.]+)%\)$/.exec(fill);
  if (!m) throw new Error(`not an hsl() fill: ${fill}`);
  return ((Number(m[1]) % 360) + 360) % 360;
}

ktest('--svg in headless Chromium: renders, hover names the frame and its share, click zooms, Search highlights', async (ctx) => {
  if (!target) return ctx.skip('gcc is not installed');
  if (!chromiumPath()) {
    if (process.env.CI) throw new Error('chromium is not installed (scripts/ensure-deps.sh installs it)');
    return ctx.skip('chromium is not installed (apt-get install chromium)');
  }
  const out = testOutputDir('profile-svg');
  const svgFile = join(out, 'flamegraph.svg');
  const t = await startReady(target, ['mixed', '30']);
  try {
    await runProfile(['--pid', String(t.pid), '--freq', '999', '--duration', '2', '--svg', svgFile]);
  } finally {
    t.child.kill('SIGKILL');
  }
  const svg = readFileSync(svgFile, 'utf8');

  // As a person opens it: the file itself, nothing added.
  const png = join(out, 'flamegraph.png');
  await screenshot(svgFile, png);
  expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
  expect(statSync(png).size).toBeGreaterThan(5000);

  const driven = join(out, 'flamegraph-driven.svg');
  writeFileSync(driven, svg.replace(/<\/svg>\s*$/, `<script><![CDATA[${DRIVER}]]></script>\n</svg>\n`));
  const dom = await dumpDom(driven);
  const m = /<text id="driver-result"[^>]*>([^<]*)<\/text>/.exec(dom);
  expect(m, `the driver wrote no result; DOM starts: ${dom.slice(0, 300)}`).toBeTruthy();
  const r = JSON.parse(m![1]!.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
  writeFileSync(join(out, 'driver-result.json'), JSON.stringify(r, null, 2));

  // Hover: the frame's name, sample count and share, gone on mouseout.
  expect(r.hover).toBe(r.titleAlpha);
  const share = Number(/^hot_alpha \(([0-9]+) samples, ([0-9.]+)%\)$/.exec(r.hover)![2]);
  expect(share).toBeGreaterThan(30); // of hot_alpha, hot_beta, sys_writes at about 3:1:1
  expect(share).toBeLessThan(90);
  expect(r.afterMouseout.trim()).toBe('');

  // Unzoomed: widths follow sample shares; labels fit their boxes.
  const full = r.before.main.width;
  expect(full).toBeGreaterThan(1100);
  expect(r.before.alpha.width / full).toBeCloseTo(share / 100, 1);
  expect(r.before.alpha.label).toBe('hot_alpha');
  expect(r.before.reset).toBe('none');
  // Zoomed into hot_beta: it takes the full width, hot_alpha (a sibling) hides, main (an ancestor) stays, dimmed.
  // Within a pixel: the zoomed width is recomputed from sample counts, the first from rounded layout.
  expect(Math.abs(r.zoomed.beta.width - full)).toBeLessThan(1);
  expect(Math.abs(r.zoomed.beta.x - r.before.main.x)).toBeLessThan(1);
  expect(r.zoomed.alpha.shown).toBe(false);
  expect(r.zoomed.main.shown).toBe(true);
  expect(r.zoomed.main.parent).toBe(true);
  expect(r.zoomed.reset).not.toBe('none');
  // Reset zoom: back to the first layout.
  expect(r.unzoomed.alpha).toEqual(r.before.alpha);
  expect(r.unzoomed.beta).toEqual(r.before.beta);
  expect(r.unzoomed.reset).toBe('none');

  // Search: matching frames (only those) highlighted, their share totalled.
  expect(r.prompted).toBe(3);
  expect(new Set(r.searchHot.hits)).toEqual(new Set(['hot_alpha', 'hot_beta']));
  expect(r.searchHot.hitFill).toBe('rgb(208, 48, 208)');
  const hotShare = Number(/: ([0-9.]+)%$/.exec(r.searchHot.matched)![1]);
  expect(hotShare).toBeGreaterThan(share);
  expect(hotShare).toBeLessThan(100);
  expect(r.searchAlpha.hits.every((n: string) => n === 'hot_alpha')).toBe(true);
  expect(r.searchAlpha.matched).toBe(`Matched "hot_alpha": ${share.toFixed(2)}%`);
  expect(r.searchCleared.hits).toEqual([]);
  expect(r.searchCleared.matched).toBe('');

  // Colours: kernel frames red, user frames yellow, the process purple: hue bands far apart.
  expect(r.fills.kernel?.length, 'the profile has kernel frames (sys_writes)').toBeGreaterThan(0);
  for (const f of r.fills.kernel as string[]) expect(Math.min(hue(f), 360 - hue(f))).toBeLessThan(15);
  for (const f of r.fills.user as string[]) expect(Math.abs(hue(f) - 52)).toBeLessThan(15);
  for (const f of r.fills.comm as string[]) expect(Math.abs(hue(f) - 280)).toBeLessThan(15);

  // The state the driver left (zoomed where kernel frames are, vfs_ frames highlighted, one hovered), for a person to look at.
  await screenshot(driven, join(out, 'flamegraph-driven.png'));
}, { timeout: 120_000 });

describe('flame graph colours by frame kind', () => {
  const frame = (symbol: string, kind: FrameKind): Frame => ({ address: 1n, symbol, offset: 0, module: kind, kind });
  it('kernel, user, JIT and BPF frames get hue bands at least 40 degrees apart', () => {
    const svg = flameGraphSvg({
      event: 'cpu-clock', samples: 4,
      stacks: (['kernel', 'user', 'jit', 'bpf'] as FrameKind[]).flatMap((kind) =>
        ['a', 'b', 'c', 'd', 'e', 'f'].map((s) => ({ pid: 1, comm: 'x', count: 1, frames: [frame(`${kind}_${s}`, kind)] }))),
    });
    const hues = new Map<string, number[]>();
    for (const m of svg.matchAll(/<g class="f (\w+)"[^>]*>.*?<rect fill="([^"]+)"/g)) hues.set(m[1]!, [...(hues.get(m[1]!) ?? []), hue(m[2]!)]);
    const kinds = ['kernel', 'user', 'jit', 'bpf'];
    for (const a of kinds) {
      for (const b of kinds) {
        if (a === b) continue;
        for (const ha of hues.get(a)!) for (const hb of hues.get(b)!) expect(Math.min(Math.abs(ha - hb), 360 - Math.abs(ha - hb))).toBeGreaterThan(40);
      }
    }
  });
  it('a run of unresolved frames shows as one', () => {
    const exited: Frame = { address: 1n, symbol: undefined, offset: undefined, module: '[exited]', kind: 'unknown' };
    const svg = flameGraphSvg({ event: 'cpu-clock', samples: 1, stacks: [{ pid: 1, comm: 'x', count: 1, frames: [exited, exited, exited, frame('k', 'kernel')] }] });
    expect(svg.match(/<title>\[exited\]/g)).toHaveLength(1);
  });
});
