/**
 * A self-contained interactive flame graph (one SVG file, inline script and
 * style): hover shows a frame and its share of samples, click zooms into a
 * frame (the root, "all", zooms out), "Search" highlights matching frames
 * and totals their share. Kernel, BPF, user and JIT frames are coloured apart.
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

const COLOURS: Record<Node['kind'], [number, number]> = {
  // [hue, saturation]: warm for native user code, orange-red kernel, green JIT, blue BPF, grey unknown
  user: [45, 80], kernel: [10, 75], jit: [120, 55], bpf: [210, 65], unknown: [0, 0], root: [0, 0], comm: [280, 30],
};

export function flameGraphSvg(result: ProfileResult, title = 'tsbpf profile'): string {
  const root: Node = { name: 'all', kind: 'root', count: 0, children: new Map() };
  for (const s of result.stacks) {
    root.count += s.count;
    let node = root;
    const path: [string, Node['kind']][] = [[s.comm || '[unknown]', 'comm'], ...s.frames.map((f) => [frameName(f), f.kind] as [string, FrameKind])];
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
    const [h, sat] = COLOURS[n.kind];
    const light = 50 + (hash(n.name) % 20);
    rects.push(`<g class="f" data-x="${x}" data-w="${w}" data-d="${depth}" data-n="${n.count}"><title>${esc(n.name)} (${n.count} samples, ${(w * 100).toFixed(2)}%)</title>` +
      `<rect fill="hsl(${h},${sat}%,${light}%)" rx="2"/><text>${esc(n.name)}</text></g>`);
    let cx = x;
    for (const c of [...n.children.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      walk(c, cx, depth + 1);
      cx += c.count / total;
    }
  };
  walk(root, 0, 0);
  const height = (maxDepth + 1) * ROW + 60;
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" data-rows="${maxDepth + 1}">
<style>
text { font: 11px monospace; pointer-events: none; fill: #000; }
.f:hover rect { stroke: #000; stroke-width: 0.5; cursor: pointer; }
.f.hit rect { fill: #e0a0ff !important; }
#detail, #title, #search, #matched { font: 12px sans-serif; }
#title { font-size: 16px; }
#search { cursor: pointer; fill: #36c; }
</style>
<rect width="100%" height="100%" fill="#f8f8f0"/>
<text id="title" x="${WIDTH / 2}" y="20" text-anchor="middle">${esc(title)} (${root.count} samples, ${esc(result.event)}; kernel red, user yellow, JIT green, BPF blue)</text>
<text id="search" x="${WIDTH - 10}" y="20" text-anchor="end">Search</text>
<text id="matched" x="${WIDTH - 10}" y="${height - 8}" text-anchor="end"></text>
<text id="detail" x="10" y="${height - 8}"> </text>
<g id="frames">
${rects.join('\n')}
</g>
<script><![CDATA[
(function () {
  var W = ${WIDTH}, ROW = ${ROW}, H = ${height}, frames = Array.prototype.slice.call(document.querySelectorAll('.f'));
  var detail = document.getElementById('detail'), matched = document.getElementById('matched');
  function layout(zx, zw, zd) {
    frames.forEach(function (g) {
      var x = +g.dataset.x, w = +g.dataset.w, d = +g.dataset.d;
      var r = g.querySelector('rect'), t = g.querySelector('text');
      var inside = x + w > zx + 1e-12 && x < zx + zw - 1e-12 && (d >= zd || (x <= zx + 1e-12 && x + w >= zx + zw - 1e-12));
      var px = (Math.max(x, zx) - zx) / zw * (W - 20) + 10, pw = (Math.min(x + w, zx + zw) - Math.max(x, zx)) / zw * (W - 20);
      if (!inside || pw < 0.3) { g.style.display = 'none'; return; }
      g.style.display = '';
      var y = H - 40 - (d + 1) * ROW;
      r.setAttribute('x', px); r.setAttribute('y', y); r.setAttribute('width', Math.max(pw - 0.5, 0.1)); r.setAttribute('height', ROW - 1);
      t.setAttribute('x', px + 3); t.setAttribute('y', y + ROW - 4);
      var name = g.querySelector('title').textContent.replace(/ \\(\\d+ samples.*$/, ''), fit = Math.floor((pw - 6) / 7);
      t.textContent = fit < 3 ? '' : name.length <= fit ? name : name.slice(0, fit - 2) + '..';
    });
  }
  frames.forEach(function (g) {
    g.addEventListener('mouseover', function () { detail.textContent = g.querySelector('title').textContent; });
    g.addEventListener('mouseout', function () { detail.textContent = ' '; });
    g.addEventListener('click', function () { layout(+g.dataset.x, +g.dataset.w || 1, +g.dataset.d); });
  });
  document.getElementById('search').addEventListener('click', function () {
    var term = window.prompt('Search frames (regular expression)', '');
    var re = null;
    try { re = term ? new RegExp(term) : null; } catch (e) { re = null; }
    var total = +frames[0].dataset.n || 1, counted = 0, seen = [];
    frames.forEach(function (g) {
      var name = g.querySelector('title').textContent.replace(/ \\(\\d+ samples.*$/, '');
      var hit = !!re && re.test(name);
      g.classList.toggle('hit', hit);
      if (!hit) return;
      var x = +g.dataset.x, w = +g.dataset.w;
      // Count each sample once: skip frames inside an already counted one.
      if (!seen.some(function (s) { return x >= s[0] - 1e-12 && x + w <= s[0] + s[1] + 1e-12; })) { seen.push([x, w]); counted += +g.dataset.n; }
    });
    matched.textContent = re ? 'Matched: ' + (100 * counted / total).toFixed(2) + '%' : '';
  });
  layout(0, 1, 0);
})();
]]></script>
</svg>
`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return h;
}
