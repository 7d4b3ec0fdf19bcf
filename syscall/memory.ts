/**
 * Native memory blocks with a fixed address, for attrs and scratch areas that
 * the kernel reads and writes. A block is malloc'd once and viewed from JS
 * without copies, so hot paths pass a precomputed address and allocate nothing.
 */
import { TsbpfError } from '../errors.ts';
import { libc, pointerAddress, viewOf } from './libc.ts';

export class NativeBlock {
  readonly size: number;
  /** Address of the first byte, as a JS number (user-space addresses fit in 53 bits). */
  readonly addr: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly u32: Uint32Array;
  #ptr: unknown;

  constructor(size: number) {
    // Round up to 8 so u64 fields and the Uint32Array view are aligned.
    this.size = Math.max(8, (size + 7) & ~7);
    const ptr = libc().malloc(this.size);
    if (!ptr) throw new TsbpfError('ENOMEM', `tsbpf: out of memory allocating ${this.size} bytes`);
    this.#ptr = ptr;
    this.addr = pointerAddress(ptr);
    const ab = viewOf(ptr, this.size);
    this.bytes = new Uint8Array(ab);
    this.bytes.fill(0);
    this.view = new DataView(ab);
    this.u32 = new Uint32Array(ab);
  }

  get freed(): boolean {
    return this.#ptr === undefined;
  }

  /** Release the memory. The views must not be used afterwards; callers drop them with the block. */
  free(): void {
    if (this.#ptr === undefined) return;
    libc().free(this.#ptr);
    this.#ptr = undefined;
  }
}

/** Write a user-space pointer into a u64 attr field as two u32 halves (cheaper than setBigUint64). */
export function putPtr(u32: Uint32Array, byteOffset: number, addr: number): void {
  const i = byteOffset >>> 2;
  u32[i] = addr >>> 0;
  u32[i + 1] = Math.floor(addr / 0x1_0000_0000);
}
