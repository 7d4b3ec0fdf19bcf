/**
 * Event streams: the public surface of the ring buffer reader, the user ring
 * buffer producer and the perf buffer reader (re-exported by lib/index.ts).
 */
export { RingBufferReader, RingLease, type RingBufferOptions, type RingRecord } from './ringbuf.ts';
export { UserRingBuffer, UserRecord, type UserRingBufferOptions } from './user-ringbuf.ts';
export { PerfBufferReader, type PerfBufferOptions, type PerfEvent, type LostCallback } from './perfbuf.ts';
export { RecordView, RecordExpiredError, type RecordCallback } from './record.ts';
export type { WaitOptions } from './loop.ts';
