export * from './map.ts';
export * from './map-spec.ts';
export * from './map-types.ts';
export * from './codec.ts';
export * from './lpm.ts';
export * from './pin.ts';
export * from './probe.ts';
export * from './btf-handle.ts';
