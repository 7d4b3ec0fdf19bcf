/**
 * A self-contained interactive flame graph (one SVG file, inline script and
 * style): hover shows a frame and its share of samples, click zooms into a
 * frame (the root, "all", or "Reset zoom" zooms out), "Search" highlights
 * matching frames and totals their share. Kernel, BPF, user and JIT frames
 * are coloured apart, with a legend. Controls sit at the left edge so a
 * window narrower than the graph (or its scrollbar) never hides them.
 */
import type { FrameKind } from '../../bpf/symbolize/index.ts';
import { frameName, type ProfileResult } from './sample.ts';

interface Node {
  name: string;
  kind: FrameKind | 'root' | 'comm';
  count: number;
  children: Map<string, Node>;
}

const WIDTH = 1200;
const ROW = 16;
/** Title and legend rows above the frames; detail line below them. */
const TOP = 50;
const BOTTOM = 40;

const COLOURS: Record<Node['kind'], [number, number]> = {
  // [hue, saturation]: yellow native user code, red kernel, green JIT, blue BPF, grey unknown, purple process
  user: [52, 85], kernel: [0, 70], jit: [120, 50], bpf: [210, 65], unknown: [0, 0], root: [0, 0], comm: [280, 35],
};

const LEGEND: [string, Node['kind']][] = [['kernel', 'kernel'], ['user', 'user'], ['JIT', 'jit'], ['BPF', 'bpf'], ['process', 'comm'], ['unknown', 'unknown']];

export interface FlameGraphOptions {
  title?: string;
  /** What one count is (default "samples"; off-CPU graphs count microseconds). */
  unit?: string;
}

export function flameGraphSvg(result: ProfileResult, titleOrOptions: string | FlameGraphOptions = {}): string {
  const opts = typeof titleOrOptions === 'string' ? { title: titleOrOptions } : titleOrOptions;
  const title = opts.title ?? 'tsbpf profile';
  const unit = opts.unit ?? 'samples';
  const root: Node = { name: 'all', kind: 'root', count: 0, children: new Map() };
  for (const s of result.stacks) {
    root.count += s.count;
    let node = root;
    const path: [string, Node['kind']][] = [[s.comm || '[unknown]', 'comm']];
    for (const f of s.frames) {
      const name = frameName(f);
      // A run of unresolved frames (an exited process, a stripped region) shows as one.
      if (f.symbol === undefined && path[path.length - 1]![0] === name) continue;
      path.push([name, f.kind]);
    }
    for (const [name, kind] of path) {
      let c = node.children.get(name);
      if (!c) node.children.set(name, (c = { name, kind, count: 0, children: new Map() }));
      c.count += s.count;
      node = c;
    }
  }
  const rects: string[] = [];
  let maxDepth = 0;
  const total = Math.max(root.count, 1);
  const walk = (n: Node, x: number, depth: number) => {
    maxDepth = Math.max(maxDepth, depth);
    const w = n.count / total;
    rects.push(`<g class="f ${n.kind}" data-x="${x}" data-w="${w}" data-d="${depth}" data-n="${n.count}"><title>${esc(n.name)} (${n.count} ${unit}, ${(w * 100).toFixed(2)}%)</title>` +
      `<rect fill="${fill(n)}" rx="2"/><text>${esc(n.name)}</text></g>`);
    let cx = x;
    for (const c of [...n.children.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      walk(c, cx, depth + 1);
      cx += c.count / total;
    }
  };
  walk(root, 0, 0);
  const height = (maxDepth + 1) * ROW + TOP + BOTTOM;
  const legend = LEGEND.map(([label, kind], i) => {
    const x = 10 + i * 80;
    const [h, sat] = COLOURS[kind];
    return `<rect x="${x}" y="29" width="12" height="12" rx="2" fill="hsl(${h},${sat}%,60%)"/><text class="ui" x="${x + 16}" y="39">${label}</text>`;
  }).join('');
  const controls = 10 + LEGEND.length * 80 + 20;
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" data-rows="${maxDepth + 1}">
<style>
text { font: 12px "DejaVu Sans Mono", Menlo, Consolas, monospace; pointer-events: none; fill: #000; }
text.ui, #detail, #matched { font: 13px "DejaVu Sans", Arial, sans-serif; }
#title { font: bold 16px "DejaVu Sans", Arial, sans-serif; }
.button { font: 13px "DejaVu Sans", Arial, sans-serif; fill: #1a5fb4; cursor: pointer; pointer-events: all; text-decoration: underline; }
.f rect { stroke: #f8f8f0; stroke-width: 0.5; }
.f:hover rect { stroke: #000; stroke-width: 1; cursor: pointer; }
.f.parent { opacity: 0.55; }
.f.hit rect { fill: #d030d0 !important; }
.f.hit text { fill: #fff; }
</style>
<rect width="100%" height="100%" fill="#f8f8f0"/>
<text id="title" x="10" y="20">${esc(title)} (${root.count} ${unit}${result.event ? `, ${esc(result.event)}` : ''})</text>
${legend}
<text id="search" class="button" x="${controls}" y="39">Search</text>
<text id="reset" class="button" x="${controls + 70}" y="39" display="none">Reset zoom</text>
<text id="matched" x="${controls + 170}" y="39"></text>
<text id="detail" x="10" y="${height - 14}"> </text>
<g id="frames">
${rects.join('\n')}
</g>
<script><![CDATA[
(function () {
  var W = ${WIDTH}, ROW = ${ROW}, H = ${height}, BOTTOM = ${BOTTOM}, CHAR = 7.3;
  var frames = Array.prototype.slice.call(document.querySelectorAll('.f'));
  var detail = document.getElementById('detail'), matched = document.getElementById('matched'), reset = document.getElementById('reset');
  function nameOf(g) { return g.querySelector('title').textContent.replace(/ \\([0-9]+ [a-z]+, [0-9.]+%\\)$/, ''); }
  function layout(zx, zw, zd) {
    reset.setAttribute('display', zd > 0 ? 'inline' : 'none');
    frames.forEach(function (g) {
      var x = +g.dataset.x, w = +g.dataset.w, d = +g.dataset.d;
      var r = g.querySelector('rect'), t = g.querySelector('text');
      // Shown: frames inside the zoomed one, and its ancestors (full width, dimmed).
      var parent = d < zd && x <= zx + 1e-12 && x + w >= zx + zw - 1e-12;
      var inside = parent || (d >= zd && x >= zx - 1e-12 && x + w <= zx + zw + 1e-12);
      var px = (Math.max(x, zx) - zx) / zw * (W - 20) + 10, pw = (Math.min(x + w, zx + zw) - Math.max(x, zx)) / zw * (W - 20);
      if (!inside || pw < 0.3) { g.style.display = 'none'; return; }
      g.style.display = '';
      g.classList.toggle('parent', parent);
      var y = H - BOTTOM - (d + 1) * ROW;
      r.setAttribute('x', px); r.setAttribute('y', y); r.setAttribute('width', Math.max(pw - 0.5, 0.1)); r.setAttribute('height', ROW - 1);
      t.setAttribute('x', px + 3); t.setAttribute('y', y + ROW - 4);
      var name = nameOf(g), fit = Math.floor((pw - 6) / CHAR);
      t.textContent = fit < 3 ? '' : name.length <= fit ? name : name.slice(0, fit - 2) + '..';
    });
  }
  function search(term) {
    var re = null;
    try { re = term ? new RegExp(term) : null; } catch (e) { re = null; }
    var total = +frames[0].dataset.n || 1, counted = 0, seen = [];
    frames.forEach(function (g) {
      var hit = !!re && re.test(nameOf(g));
      g.classList.toggle('hit', hit);
      if (!hit) return;
      var x = +g.dataset.x, w = +g.dataset.w;
      // Count each sample once: skip frames inside an already counted one.
      if (!seen.some(function (s) { return x >= s[0] - 1e-12 && x + w <= s[0] + s[1] + 1e-12; })) { seen.push([x, w]); counted += +g.dataset.n; }
    });
    matched.textContent = re ? 'Matched "' + term + '": ' + (100 * counted / total).toFixed(2) + '%' : '';
  }
  frames.forEach(function (g) {
    g.addEventListener('mouseover', function () { detail.textContent = g.querySelector('title').textContent; });
    g.addEventListener('mouseout', function () { detail.textContent = ' '; });
    g.addEventListener('click', function () { layout(+g.dataset.x, +g.dataset.w || 1, +g.dataset.d); });
  });
  reset.addEventListener('click', function () { layout(0, 1, 0); });
  document.getElementById('search').addEventListener('click', function () {
    search(window.prompt('Search frames (regular expression; empty clears)', '') || '');
  });
  layout(0, 1, 0);
})();
]]></script>
</svg>
`;
}

function fill(n: Node): string {
  const [h, sat] = COLOURS[n.kind];
  // Neighbours differ a little in lightness (and hue) so frame edges read; black text stays legible.
  const v = hash(n.name);
  return `hsl(${h + (v % 7) - 3},${sat}%,${55 + ((v >>> 4) % 16)}%)`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return h;
}
