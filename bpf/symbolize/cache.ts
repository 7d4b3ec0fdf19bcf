/**
 * The symbol-table cache: tables by key (a build-id, so processes running
 * one binary share it, in any container), least recently used evicted
 * first once the bytes held pass the caller's bound.
 */
export interface Sized {
  readonly byteSize: number;
}

export class SymbolCache<T extends Sized> {
  private readonly entries = new Map<string, T>();
  private held = 0;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.held;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): T | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) {
      // Map keeps insertion order: re-inserting makes it the most recent.
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }

  /** Stores `value`; evicts the oldest entries past the bound (the new one stays even when alone it is bigger). */
  set(key: string, value: T): void {
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.held -= old.byteSize;
      this.entries.delete(key);
    }
    this.entries.set(key, value);
    this.held += value.byteSize;
    for (const [k, v] of this.entries) {
      if (this.held <= this.maxBytes || k === key) break;
      this.entries.delete(k);
      this.held -= v.byteSize;
    }
  }

  delete(key: string): void {
    const v = this.entries.get(key);
    if (v === undefined) return;
    this.entries.delete(key);
    this.held -= v.byteSize;
  }

  clear(): void {
    this.entries.clear();
    this.held = 0;
  }
}
