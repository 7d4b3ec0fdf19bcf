/**
 * BPF_MAP_TYPE_USER_RINGBUF producer: user space writes records, a BPF
 * program drains them with bpf_user_ringbuf_drain().
 *
 * The roles of the ring buffer are swapped: page 0 (consumer_pos) is written
 * by the kernel and mapped read-only here (the kernel refuses a writable
 * mapping of it); page 1 (producer_pos) and the double-mapped data area are
 * mapped read-write. The protocol (kernel/bpf/ringbuf.c, __bpf_user_ringbuf_peek):
 *  - reserve: with room for round_up(8 + len, 8) bytes between producer_pos and
 *    consumer_pos + size, write the header { len | BUSY, 0 } at producer_pos,
 *    then publish producer_pos + total with a release store (Atomics.store,
 *    see ringbuf.ts for the 64-bit handling);
 *  - submit: exchange the header to len (BUSY cleared), or len | DISCARD to
 *    discard, with Atomics.exchange (acquire-release: the payload writes before
 *    it are visible to the kernel once it sees the cleared bit).
 * The kernel stops at the first busy record, so records are drained in
 * reservation order whatever the order of submits.
 */
import { BpfMap } from '../maps/map.ts';
import { MapType, mapTypeName } from '../maps/types.ts';
import { TsbpfError } from '../../errors.ts';
import { pageSize } from '../../syscall/mmap.ts';
import { RingMapping, PROT_READ, PROT_WRITE } from '../../syscall/mmap.ts';
import { checkTimeout, Wakeup, type WaitOptions } from './loop.ts';
import { checkInt } from './args.ts';
import { loadPos, ownPos, storePos } from './ringbuf.ts';

const BUSY = 0x80000000 | 0;
const DISCARD = 0x40000000;

export interface UserRingBufferOptions {
  /** Watch the map fd with epoll for room (default true). */
  epoll?: boolean;
  /** Also look for room every `interval` ms while waiting. 0: never. */
  interval?: number;
}

/** A reserved record: fill `data`, then submit() or discard(). */
export class UserRecord {
  /** The record's bytes in the ring (zero-copy); do not touch after submit/discard. */
  readonly data: Uint8Array;
  #settle: ((discard: boolean) => void) | undefined;
  readonly #closed: () => boolean;

  /** @internal */
  constructor(data: Uint8Array, settle: (discard: boolean) => void, closed: () => boolean) {
    this.data = data;
    this.#settle = settle;
    this.#closed = closed;
  }

  get settled(): boolean {
    return this.#settle === undefined;
  }

  /** Hand the record to the kernel. Throws CLOSED once the ring is closed (close() discarded the record: it is not sent). */
  submit(): void {
    const s = this.#settle;
    if (!s) throw new TsbpfError('SETTLED', 'the record was already submitted or discarded');
    if (this.#closed()) {
      this.#settle = undefined;
      throw new TsbpfError('CLOSED', 'the user ring buffer was closed before submit(): the record was discarded, not sent');
    }
    this.#settle = undefined;
    s(false);
  }

  /** Give the space back without a record (the kernel skips it). */
  discard(): void {
    const s = this.#settle;
    if (!s) throw new TsbpfError('SETTLED', 'the record was already submitted or discarded');
    this.#settle = undefined;
    s(true);
  }
}

export class UserRingBuffer implements Disposable {
  readonly #map: BpfMap;
  readonly #cons: RingMapping;
  readonly #prod: RingMapping;
  readonly #c32: Int32Array;
  readonly #p32: Int32Array;
  readonly #p64: BigInt64Array;
  readonly #hdr: Int32Array;
  readonly #u8: Uint8Array;
  readonly #mask: number;
  readonly #wake: Wakeup;
  readonly #open = new Set<number>();
  #need = 0;
  #closed = false;
  /** Data area size (max_entries). */
  readonly size: number;

  constructor(map: BpfMap | number, opts: UserRingBufferOptions = {}) {
    const m = BpfMap.fromFd(typeof map === 'number' ? map : map.fd);
    let cons: RingMapping | undefined;
    let prod: RingMapping | undefined;
    try {
      if (m.type !== MapType.USER_RINGBUF) {
        throw new TsbpfError('BAD_MAP_TYPE', `map '${m.name}' is a ${mapTypeName(m.type)}, not a USER_RINGBUF`);
      }
      const page = pageSize();
      this.size = m.maxEntries;
      cons = RingMapping.map(m.fd, page, PROT_READ, 0, `mmap of user ring buffer '${m.name}' (consumer page)`);
      prod = RingMapping.map(m.fd, page + 2 * this.size, PROT_READ | PROT_WRITE, page, `mmap of user ring buffer '${m.name}' (producer page and data)`);
    } catch (e) {
      cons?.release();
      prod?.release();
      m.close();
      throw e;
    }
    this.#map = m;
    this.#cons = cons;
    this.#prod = prod;
    const page = pageSize();
    this.#c32 = new Int32Array(cons.buffer, 0, 2);
    this.#p32 = new Int32Array(prod.buffer, 0, 2);
    this.#p64 = new BigInt64Array(prod.buffer, 0, 1);
    this.#hdr = new Int32Array(prod.buffer, page, (2 * this.size) >>> 2);
    this.#u8 = new Uint8Array(prod.buffer, page, 2 * this.size);
    this.#mask = this.size - 1;
    this.#wake = new Wakeup(opts.epoll === false ? [] : [m.fd], { writable: true }, () => this.free() >= this.#need, opts.interval ?? 0);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes free for new records (each takes round_up(8 + length, 8)). */
  free(): number {
    if (this.#closed) return 0;
    return this.size - (ownPos(this.#p32, 0) - loadPos(this.#c32, 0));
  }

  /** Records reserved and not yet submitted or discarded. */
  get outstanding(): number {
    return this.#open.size;
  }

  /** Reserve `length` bytes; undefined when the ring has no room now. Throws E2BIG when it never could. */
  reserve(length: number): UserRecord | undefined {
    if (this.#closed) throw new TsbpfError('CLOSED', 'the user ring buffer is closed');
    checkInt('record length', length, 0, Number.MAX_SAFE_INTEGER);
    // Bigger than the 30-bit length field or the ring: it could never fit.
    const total = length > 0x3fffffff ? Infinity : (length + 15) & ~7;
    if (total > this.size) throw new TsbpfError('E2BIG', `a ${length}-byte record needs ${total} bytes; the ring has ${this.size}`);
    const prod = ownPos(this.#p32, 0);
    if (this.size - (prod - loadPos(this.#c32, 0)) < total) return undefined;
    const off = this.#p32[0]! & this.#mask;
    const hi = off >> 2;
    this.#hdr[hi] = length | BUSY;
    this.#hdr[hi + 1] = 0;
    storePos(this.#p32, this.#p64, 0, prod + total);
    this.#open.add(off);
    const data = new Uint8Array(this.#u8.buffer, this.#u8.byteOffset + off + 8, length);
    return new UserRecord(
      data,
      (discard) => {
        if (!this.#open.delete(off) || this.#closed) return;
        Atomics.exchange(this.#hdr, hi, discard ? length | DISCARD : length);
      },
      () => this.#closed,
    );
  }

  /** Reserve, waiting for room (the kernel's drain frees it); resolves undefined on close or timeout. */
  async reserveAsync(length: number, opts: WaitOptions = {}): Promise<UserRecord | undefined> {
    checkTimeout(opts.timeout);
    for (;;) {
      const r = this.reserve(length);
      if (r) return r;
      this.#need = (length + 15) & ~7;
      if (!(await this.#wake.wait(opts))) return undefined;
    }
  }

  /** Copy `bytes` in as one record; false when there is no room now. */
  write(bytes: Uint8Array): boolean {
    const r = this.reserve(bytes.byteLength);
    if (!r) return false;
    r.data.set(bytes);
    r.submit();
    return true;
  }

  /** write(), waiting for room; false on close or timeout. */
  async writeAsync(bytes: Uint8Array, opts: WaitOptions = {}): Promise<boolean> {
    const r = await this.reserveAsync(bytes.byteLength, opts);
    if (!r) return false;
    r.data.set(bytes);
    r.submit();
    return true;
  }

  /** Discard what is still reserved (so the kernel is not stuck behind it), end waits, release the mappings and fd. */
  close(): void {
    if (this.#closed) return;
    for (const off of this.#open) {
      const i = off >> 2;
      Atomics.exchange(this.#hdr, i, (this.#hdr[i]! & 0x3fffffff) | DISCARD);
    }
    this.#open.clear();
    this.#closed = true;
    this.#wake.close();
    this.#cons.release();
    this.#prod.release();
    this.#map.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
