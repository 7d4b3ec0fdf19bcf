/**
 * BPF_MAP_TYPE_PERF_EVENT_ARRAY reader: one perf ring per CPU, written by
 * bpf_perf_event_output().
 *
 * For each CPU the reader opens a PERF_TYPE_SOFTWARE / PERF_COUNT_SW_BPF_OUTPUT
 * event (sample_type PERF_SAMPLE_RAW), maps 1 + 2^n pages read-write (page 0
 * is struct perf_event_mmap_page: data_head at byte 1024, data_tail at 1032;
 * the data pages follow) and stores the event fd in the map at index cpu.
 *
 * Records are 8-byte aligned: struct perf_event_header { u32 type; u16 misc;
 * u16 size } then, for PERF_RECORD_SAMPLE, u32 raw size and the raw bytes
 * (the kernel pads them so the record stays 8-byte aligned, and the raw size
 * includes that padding, as libbpf reports it); for PERF_RECORD_LOST, u64 id
 * and u64 lost. The perf ring is not mapped twice, so a record that runs past
 * its end is reassembled into a scratch copy before the callback sees it.
 *
 * Ordering is the ring buffer's (see ringbuf.ts): data_head is read once per
 * drain with Atomics loads of its halves (the kernel publishes it with a
 * release store after writing the records), data_tail is published with an
 * Atomics.store after the records are read. Lost counts are exact per CPU:
 * the kernel reports them in a PERF_RECORD_LOST written ahead of the next
 * record that fits, so a drop is only visible once a later record arrives.
 */
import { BpfMap } from '../maps/map.ts';
import { MapType, mapTypeName } from '../maps/types.ts';
import { TsbpfError } from '../../errors.ts';
import { pageSize } from '../../syscall/mmap.ts';
import { closeFd } from '../../syscall/fd.ts';
import { onlineCpus, possibleCpus } from '../../syscall/cpus.ts';
import { perfEventOpen, PerfIoctl } from '../../syscall/perf.ts';
import { ioctl } from '../../syscall/ioctl.ts';
import { perfAttr, PerfType, PerfSwConfig, PERF_SAMPLE_RAW, PerfAttrFlag } from '../../syscall/perf-attr.ts';
import { RingMapping, PROT_READ, PROT_WRITE } from '../../syscall/mmap.ts';
import type { WaitOptions } from './loop.ts';
import { backRecord, pointRecord, type RecordView, type RecordCallback } from './record.ts';
import { checkCallback, checkInt, EventArgumentError } from './args.ts';
import { EventReader, type DrainState, type Queued } from './reader.ts';
import { loadPos, ownPos, storePos } from './ringbuf.ts';

const PERF_RECORD_LOST = 2;
const PERF_RECORD_SAMPLE = 9;
/** Int32 indexes of data_head and data_tail in struct perf_event_mmap_page. */
const HEAD = 1024 >> 2;
const TAIL = 1032 >> 2;
const TWO32 = 4294967296;
/** Bytes walked per call of the hot loop (see CHUNK in ringbuf.ts). */
const CHUNK = 1 << 16;

/**
 * The hot loop: walk PERF_RECORD_SAMPLEs (type 9) that do not wrap, from
 * `start` to `limit` bytes past data_tail (`lo`, its low 32 bits). Returns
 * 4 × the bytes walked + a code: 0 limit reached, 1 stopped (the callback
 * returned false, or close()), 2 the record at that position needs the slow
 * path. Written for V8 like walkRing in ringbuf.ts.
 */
function walkPerf(u32: Uint32Array, mask: number, size: number, lo: number, start: number, limit: number, rec: RecordView, cb: RecordCallback, st: DrainState): number {
  let done = start;
  let off = (lo + start) & mask;
  let n = 0;
  let code = 0;
  try {
    while (done < limit) {
      const i = off >> 2;
      const rsz = u32[i + 1]! >>> 16;
      if (u32[i] !== 9 || off + rsz > size || rsz < 16) {
        code = 2;
        break;
      }
      done += rsz;
      rec['_off'] = off + 12;
      rec['_len'] = u32[i + 2]!;
      off = (off + rsz) & mask;
      n++;
      if (cb(rec) === false || st.closing) {
        code = 1;
        break;
      }
    }
  } catch (e) {
    st.done = done; // the record whose callback threw is consumed
    throw e;
  }
  st.count += n;
  st.done = done;
  return done * 4 + code;
}

export type LostCallback = (cpu: number, count: number) => void;

export interface PerfBufferOptions {
  /** Data pages per CPU, a power of two (default 64, i.e. 256 KiB with 4 KiB pages). */
  pages?: number;
  /** Wake the reader every this many samples (perf wakeup_events; default 1, like libbpf). */
  wakeupEvents?: number;
  /** Wake the reader once this many bytes are ready instead (perf watermark); overrides wakeupEvents. */
  watermark?: number;
  /** CPUs to open buffers for (default: every possible CPU that is online and below the map's max_entries). */
  cpus?: number[];
  /** Default callback for consume()/poll(). */
  callback?: RecordCallback;
  /** Told of each PERF_RECORD_LOST (the counts are also kept in lostByCpu). */
  onLost?: LostCallback;
  /** Watch the perf fds with epoll (default true). */
  epoll?: boolean;
  /** Also look for records every `interval` ms while waiting. 0: never. */
  interval?: number;
}

/** What the async iterator yields: a copied sample, or a count of samples the kernel dropped. */
export type PerfEvent = { type: 'sample'; cpu: number; data: Buffer } | { type: 'lost'; cpu: number; lost: number };

interface CpuBuf {
  cpu: number;
  fd: number;
  mapping: RingMapping;
  meta: Int32Array;
  meta64: BigInt64Array;
  size: number;
  mask: number;
  u32: Uint32Array;
  dv: DataView;
  u8: Uint8Array;
  lost: number;
}

/**
 * Reads a perf event array, one buffer per CPU: synchronous zero-copy
 * `consume(cb)`, `poll()`, an async iterator of copies; pause()/resume();
 * exact lost counts per CPU. Owns its perf fds, mappings and a duplicate of the
 * map fd; close() removes its fds from the map and releases everything.
 */
export class PerfBufferReader extends EventReader<PerfEvent, WaitOptions & { callback?: RecordCallback; onLost?: LostCallback }> {
  readonly #map: BpfMap;
  readonly #bufs: CpuBuf[] = [];
  readonly #callback: RecordCallback | undefined;
  readonly #onLost: LostCallback | undefined;
  readonly #scratch = new Uint8Array(1 << 16);
  readonly #sdv = new DataView(this.#scratch.buffer);
  readonly #s32 = new Uint32Array(this.#scratch.buffer);
  #lost = 0;
  /** Data bytes per CPU buffer. */
  readonly bufferSize: number;

  constructor(map: BpfMap | number, opts: PerfBufferOptions = {}) {
    super('cpu', 'perf buffer reader', opts.interval ?? 0);
    this.#callback = opts.callback;
    this.#onLost = opts.onLost;
    const page = pageSize();
    // The data area is indexed with 32-bit offsets: at most 1 GiB per CPU.
    const pages = checkInt('pages', opts.pages ?? 64, 1, 2 ** 30 / page, 'BAD_OPTION');
    if ((pages & (pages - 1)) !== 0) throw new EventArgumentError('pages', `must be a power of two, got ${pages}`, 'BAD_OPTION');
    if (opts.wakeupEvents !== undefined) checkInt('wakeupEvents', opts.wakeupEvents, 1, 0xffffffff, 'BAD_OPTION');
    if (opts.watermark !== undefined) checkInt('watermark', opts.watermark, 1, pages * page, 'BAD_OPTION');
    this.bufferSize = pages * page;
    const m = BpfMap.fromFd(typeof map === 'number' ? map : map.fd);
    this.#map = m;
    const fds: number[] = [];
    const attr = perfAttr({
      type: PerfType.SOFTWARE,
      config: BigInt(PerfSwConfig.BPF_OUTPUT),
      sample: 1n,
      sampleType: BigInt(PERF_SAMPLE_RAW),
      flags: opts.watermark !== undefined ? PerfAttrFlag.WATERMARK : 0n,
      wakeup: opts.watermark !== undefined ? opts.watermark : (opts.wakeupEvents ?? 1),
    });
    try {
      if (m.type !== MapType.PERF_EVENT_ARRAY) {
        throw new TsbpfError('BAD_MAP_TYPE', `map '${m.name}' is a ${mapTypeName(m.type)}, not a PERF_EVENT_ARRAY`);
      }
      let cpus = opts.cpus;
      if (!cpus) {
        const online = new Set(onlineCpus());
        cpus = possibleCpus().filter((c) => online.has(c) && c < m.maxEntries);
      }
      if (!Array.isArray(cpus)) throw new EventArgumentError('cpus', 'must be an array of CPU numbers', 'BAD_OPTION');
      const seen = new Set<number>();
      for (const cpu of cpus) {
        checkInt('cpus[]', cpu, 0, 0xffffffff, 'BAD_OPTION');
        // Two buffers for one CPU would both claim its slot in the map: the first would never see a record.
        if (seen.has(cpu)) throw new EventArgumentError('cpus', `lists CPU ${cpu} twice`, 'BAD_OPTION');
        seen.add(cpu);
        if (cpu >= m.maxEntries) throw new TsbpfError('BAD_OPTION', `CPU ${cpu} is beyond the map's ${m.maxEntries} entries`);
      }
      for (const cpu of cpus) {
        const fd = perfEventOpen(attr, -1, cpu);
        let mapping: RingMapping;
        try {
          mapping = RingMapping.map(fd, page + this.bufferSize, PROT_READ | PROT_WRITE, 0, `mmap of the perf buffer of CPU ${cpu}`);
        } catch (e) {
          closeFd(fd);
          throw e;
        }
        const ab = mapping.buffer;
        this.#bufs.push({
          cpu,
          fd,
          mapping,
          meta: new Int32Array(ab, 0, page >> 2),
          meta64: new BigInt64Array(ab, 0, page >> 3),
          size: this.bufferSize,
          mask: this.bufferSize - 1,
          u32: new Uint32Array(ab, page, this.bufferSize >> 2),
          dv: new DataView(ab, page, this.bufferSize),
          u8: new Uint8Array(ab, page, this.bufferSize),
          lost: 0,
        });
        fds.push(fd);
        ioctl(fd, PerfIoctl.ENABLE, 0, 'PERF_EVENT_IOC_ENABLE');
        m.update(cpu, { fd });
      }
    } catch (e) {
      attr.free();
      this._release();
      throw e;
    }
    attr.free();
    if (opts.epoll !== false) for (const fd of fds) this._watch(fd);
  }

  /** The CPUs read, in buffer order. */
  get cpus(): number[] {
    return this.#bufs.map((b) => b.cpu);
  }

  /** Samples the kernel dropped (full buffer), over all CPUs, as reported so far. */
  get lost(): number {
    return this.#lost;
  }

  /** Dropped samples per CPU id (sparse for CPUs not read). */
  get lostByCpu(): Record<number, number> {
    const out: Record<number, number> = {};
    for (const b of this.#bufs) out[b.cpu] = b.lost;
    return out;
  }

  /** Bytes written but not yet consumed in a CPU's buffer. */
  pending(cpu: number): number {
    const b = this.#buf(cpu);
    return loadPos(b.meta, HEAD) - ownPos(b.meta, TAIL);
  }

  /**
   * Stop the kernel writing into the buffers (PERF_EVENT_IOC_PAUSE_OUTPUT):
   * bpf_perf_event_output() then fails with ENOSPC and the sample counts as
   * lost, reported by a PERF_RECORD_LOST once output resumes and a sample fits.
   */
  pause(): void {
    this._open();
    for (const b of this.#bufs) ioctl(b.fd, PerfIoctl.PAUSE_OUTPUT, 1, 'PERF_EVENT_IOC_PAUSE_OUTPUT');
  }

  resume(): void {
    this._open();
    for (const b of this.#bufs) ioctl(b.fd, PerfIoctl.PAUSE_OUTPUT, 0, 'PERF_EVENT_IOC_PAUSE_OUTPUT');
  }

  /**
   * Drain every record ready now, CPU by CPU; returns the samples delivered.
   * Same contract as RingBufferReader.consume (a RecordView valid only during
   * the call, `false` stops, a throwing callback's record is consumed, close()
   * from a callback is deferred). Lost records go to `onLost` and the counters.
   */
  consume(callback?: RecordCallback, onLost?: LostCallback): number {
    if (this._closed) return 0;
    if (this._depth) throw new TsbpfError('REENTRANT', 'PerfBufferReader.consume() called from one of its own callbacks');
    const cb = callback ?? this.#callback;
    if (!cb) throw new TsbpfError('NO_CALLBACK', 'consume() needs a callback (or one given to the reader)');
    checkCallback('callback', cb);
    checkCallback('onLost', onLost ?? this.#onLost);
    this._dropQueue();
    let n = 0;
    try {
      for (const b of this.#bufs) {
        n += this.#drain(b, cb, onLost ?? this.#onLost);
        if (this._closeRequested) break;
      }
    } finally {
      if (this._closeRequested) this._doClose();
    }
    return n;
  }

  #drain(b: CpuBuf, cb: RecordCallback, onLost: LostCallback | undefined): number {
    const meta = b.meta;
    const tail = ownPos(meta, TAIL);
    const avail = loadPos(meta, HEAD) - tail;
    if (avail <= 0) return 0;
    const lo = meta[TAIL]!;
    const rec = this._rec;
    const st = this._st;
    let done = 0;
    let committed = 0;
    this._enter(b.dv, b.u8, b.u32, b.cpu);
    try {
      for (;;) {
        const w = walkPerf(b.u32, b.mask, b.size, lo, done, Math.min(avail, done + CHUNK), rec, cb, st);
        done = Math.floor(w / 4);
        const code = w & 3;
        if (code === 2) {
          // A record the hot loop leaves alone: one that wraps, a LOST report, another type.
          const off = (lo + done) & b.mask;
          const rsz = b.u32[(off >> 2) + 1]! >>> 16;
          if (rsz < 8) throw new TsbpfError('CORRUPT', `perf buffer of CPU ${b.cpu}: record of ${rsz} bytes at ${off}`);
          done += rsz;
          st.done = done;
          const stop = this.#special(b, off, rsz, cb, onLost);
          backRecord(rec, b.dv, b.u8, b.u32, b.cpu);
          if (stop) {
            storePos(meta, b.meta64, TAIL, tail + done);
            committed = done;
            break;
          }
          if (done < avail) continue;
        }
        storePos(meta, b.meta64, TAIL, tail + done);
        committed = done;
        if (code === 1 || done >= avail) break;
      }
    } finally {
      this._leave();
      // A callback threw: its record is consumed (as in libbpf), the error propagates.
      if (st.done > committed) storePos(meta, b.meta64, TAIL, tail + st.done);
    }
    return st.count;
  }

  /**
   * A record outside the hot loop, at `off`: reassemble one that runs past the
   * end of the ring in the scratch buffer; count a LOST report; skip other
   * types. Returns whether to stop (the callback returned false, or close()).
   */
  #special(b: CpuBuf, off: number, rsz: number, cb: RecordCallback, onLost: LostCallback | undefined): boolean {
    let u32 = b.u32;
    let p = off;
    if (off + rsz > b.size) {
      const s = this.#scratch;
      const first = b.size - off;
      s.set(b.u8.subarray(off, b.size), 0);
      s.set(b.u8.subarray(0, rsz - first), first);
      u32 = this.#s32;
      p = 0;
    }
    const type = u32[p >> 2]!;
    if (type === PERF_RECORD_LOST) {
      this.#lostRecord(b, u32[(p >> 2) + 4]! + u32[(p >> 2) + 5]! * TWO32, onLost);
      return false;
    }
    if (type !== PERF_RECORD_SAMPLE) return false;
    const rec = this._rec;
    if (p === 0 && u32 === this.#s32) backRecord(rec, this.#sdv, this.#scratch, this.#s32, b.cpu);
    pointRecord(rec, p + 12, u32[(p >> 2) + 2]!);
    this._st.count++;
    return cb(rec) === false || this._st.closing;
  }

  #lostRecord(b: CpuBuf, count: number, onLost: LostCallback | undefined): void {
    b.lost += count;
    this.#lost += count;
    onLost?.(b.cpu, count);
  }

  protected override _consume(opts: { callback?: RecordCallback; onLost?: LostCallback }): number {
    return this.consume(opts.callback, opts.onLost);
  }

  /** Lost samples reported so far: poll() returns when a drain reported some, even with no sample. */
  protected override _reported(): number {
    return this.#lost;
  }

  protected override _fill(): void {
    for (let i = 0; i < this.#bufs.length; i++) this.#fill(this.#bufs[i]!, i);
  }

  protected override _payload(ev: PerfEvent): Uint8Array | undefined {
    return ev.type === 'sample' ? ev.data : undefined;
  }

  protected override _commit(src: number, end: number, ev: PerfEvent): void {
    const b = this.#bufs[src]!;
    if (end > ownPos(b.meta, TAIL)) {
      storePos(b.meta, b.meta64, TAIL, end);
      if (ev.type === 'lost') this.#lostRecord(b, ev.lost, this.#onLost);
    }
  }

  #fill(b: CpuBuf, src: number): void {
    const tail = ownPos(b.meta, TAIL);
    const avail = loadPos(b.meta, HEAD) - tail;
    if (avail <= 0) return;
    let off = b.meta[TAIL]! & b.mask;
    let done = 0;
    let last: Queued<PerfEvent> | undefined;
    while (done < avail && done < 1 << 20) {
      const rsz = b.u32[(off >> 2) + 1]! >>> 16;
      if (rsz < 8) throw new TsbpfError('CORRUPT', `perf buffer of CPU ${b.cpu}: record of ${rsz} bytes at ${off}`);
      let u32 = b.u32;
      let u8 = b.u8;
      let p = off;
      if (off + rsz > b.size) {
        const first = b.size - off;
        this.#scratch.set(b.u8.subarray(off, b.size), 0);
        this.#scratch.set(b.u8.subarray(0, rsz - first), first);
        u32 = this.#s32;
        u8 = this.#scratch;
        p = 0;
      }
      const type = u32[p >> 2]!;
      done += rsz;
      if (type === PERF_RECORD_SAMPLE) {
        const len = u32[(p >> 2) + 2]!;
        last = this._enqueue({ type: 'sample', cpu: b.cpu, data: Buffer.copyBytesFrom(u8, p + 12, len) }, src, tail + done);
      } else if (type === PERF_RECORD_LOST) {
        const lost = u32[(p >> 2) + 4]! + u32[(p >> 2) + 5]! * TWO32;
        last = this._enqueue({ type: 'lost', cpu: b.cpu, lost }, src, tail + done);
      }
      off = (off + rsz) & b.mask;
    }
    // Records of other types are consumed with the record before them (or now, if nothing was queued).
    if (!last) storePos(b.meta, b.meta64, TAIL, tail + done);
    else last.end = tail + done;
  }

  protected override _hasRecords(): boolean {
    for (const b of this.#bufs) if (loadPos(b.meta, HEAD) > ownPos(b.meta, TAIL)) return true;
    return false;
  }

  #buf(cpu: number): CpuBuf {
    this._open();
    const b = this.#bufs.find((x) => x.cpu === cpu);
    if (!b) throw new EventArgumentError('cpu', `${typeof cpu === 'number' ? cpu : typeof cpu} has no perf buffer (reading ${this.cpus.join(', ')})`);
    return b;
  }

  protected override _release(): void {
    for (const b of this.#bufs) {
      // Take our fd out of the map first, so programs stop writing to a buffer about to go.
      if (!this.#map.closed) {
        try {
          this.#map.delete(b.cpu);
        } catch {
          // Already replaced or deleted by someone else.
        }
      }
      b.mapping.release();
      closeFd(b.fd);
    }
    this.#bufs.length = 0;
    this.#map.close();
  }
}
