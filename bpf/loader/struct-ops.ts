/**
 * struct_ops at load time, as libbpf does it: the object's declaration of a
 * kernel struct (`struct tcp_congestion_ops`) is matched by name against
 * vmlinux BTF; the map is a BPF_MAP_TYPE_STRUCT_OPS whose value is the
 * kernel's `struct bpf_struct_ops_<name>` (named by btf_vmlinux_value_type_id);
 * each program it points to is loaded with attach_btf_id = the kernel struct
 * and expected_attach_type = the member's index; the value carries the
 * object's data members at the kernel's offsets and program fds in the
 * function pointers. Registering writes it at key 0 (and, for
 * `.struct_ops.link` maps, makes a BPF_STRUCT_OPS link).
 */
import type { Btf } from '../../btf/btf.ts';
import type { BtfMember, BtfType } from '../../btf/types.ts';
import { closeFd } from '../../syscall/index.ts';
import { linkCreate, Link } from '../link/link.ts';
import type { BpfMap } from '../maps/map.ts';
import { AttachType } from '../programs/types.ts';
import { StructOpsError, type StructOpsMapSpec } from './struct-ops-spec.ts';

export const STRUCT_OPS_VALUE_PREFIX = 'bpf_struct_ops_';

/** Where everything goes in the kernel's value, worked out once per map. */
export interface StructOpsPlan {
  /** The kernel struct (attach_btf_id of the programs). */
  kernTypeId: number;
  /** `struct bpf_struct_ops_<name>` (the map's btf_vmlinux_value_type_id) and its size (the map's value size). */
  valueTypeId: number;
  valueSize: number;
  /** Offset of its `data` member, the kernel struct itself. */
  dataOffset: number;
  /** Data members: bytes of the object's value copied to the kernel's offset. */
  copies: { member: string; localOffset: number; kernOffset: number; size: number }[];
  /** Function pointers set to programs: the kernel member's offset and index. */
  funcs: { member: string; prog: string; kernOffset: number; memberIndex: number }[];
}

const isFuncPtr = (btf: Btf, t: BtfType) => t.kind === 'ptr' && btf.resolve(t.type).kind === 'func_proto';

const mismatch = (map: string, msg: string) => new StructOpsError('STRUCT_OPS_MISMATCH', `struct_ops map '${map}': ${msg}`);

/** Match the object's declaration of map `name` against the kernel's BTF. */
export function planStructOps(name: string, so: StructOpsMapSpec, local: Btf, kern: Btf): StructOpsPlan {
  const kst = kern.findByName(so.typeName, 'struct');
  const value = kern.findByName(STRUCT_OPS_VALUE_PREFIX + so.typeName, 'struct');
  if (!kst || kst.kind !== 'struct' || !value || value.kind !== 'struct') {
    throw new StructOpsError(
      'STRUCT_OPS_UNKNOWN',
      `struct_ops map '${name}': the kernel's BTF has no ${kst ? `struct ${STRUCT_OPS_VALUE_PREFIX}${so.typeName} (the kernel does not offer struct ${so.typeName} as struct_ops)` : `struct ${so.typeName}`} (struct_ops of kernel modules are not supported)`,
    );
  }
  const dataMember = value.members.find((m) => m.name === 'data');
  if (!dataMember || kern.resolve(dataMember.type).id !== kst.id) {
    throw new StructOpsError('STRUCT_OPS_UNKNOWN', `struct_ops map '${name}': struct ${value.name} has no 'data' member of struct ${so.typeName}`);
  }
  const lst = local.resolve(so.localTypeId);
  if (lst.kind !== 'struct') throw new StructOpsError('BAD_STRUCT_OPS', `struct_ops map '${name}': its type is a ${lst.kind}`);
  const plan: StructOpsPlan = { kernTypeId: kst.id, valueTypeId: value.id, valueSize: value.size, dataOffset: dataMember.bitOffset / 8, copies: [], funcs: [] };
  for (const m of lst.members) {
    if (m.bitfieldSize || m.bitOffset % 8) throw mismatch(name, `member '${m.name}' is a bitfield, which struct_ops values cannot hold`);
    const localOffset = m.bitOffset / 8;
    const mt = local.resolve(m.type);
    const prog = so.funcs[m.name];
    const at = kst.members.findIndex((k) => k.name === m.name);
    const km: BtfMember | undefined = kst.members[at];
    if (!km) {
      // libbpf accepts a member the kernel lacks when the object leaves it zero (an optional callback of a newer kernel).
      const size = local.sizeOf(m.type);
      if (!prog && so.data.subarray(localOffset, localOffset + size).every((b) => b === 0)) continue;
      throw mismatch(name, `the kernel's struct ${so.typeName} has no member '${m.name}'`);
    }
    if (km.bitfieldSize || km.bitOffset % 8) throw mismatch(name, `the kernel's member '${m.name}' is a bitfield`);
    const kt = kern.resolve(km.type);
    const kernOffset = km.bitOffset / 8;
    if (prog !== undefined || isFuncPtr(local, mt)) {
      if (!isFuncPtr(kern, kt)) throw mismatch(name, `member '${m.name}' is a function pointer here but a ${kt.kind} in the kernel's struct ${so.typeName}`);
      if (prog !== undefined) plan.funcs.push({ member: m.name, prog, kernOffset, memberIndex: at });
      continue;
    }
    if (mt.kind !== kt.kind) throw mismatch(name, `member '${m.name}' is a ${mt.kind} here but a ${kt.kind} in the kernel's struct ${so.typeName}`);
    const size = local.sizeOf(m.type);
    const ksize = kern.sizeOf(km.type);
    if (size !== ksize) throw mismatch(name, `member '${m.name}' is ${size} bytes here but ${ksize} in the kernel's struct ${so.typeName}`);
    plan.copies.push({ member: m.name, localOffset, kernOffset, size });
  }
  return plan;
}

/** The value to write at key 0: data members at the kernel's offsets, program fds in the function pointers. */
export function structOpsValue(plan: StructOpsPlan, so: StructOpsMapSpec, progFd: (prog: string) => number): Uint8Array {
  const v = new Uint8Array(plan.valueSize);
  const view = new DataView(v.buffer);
  const base = plan.dataOffset;
  for (const c of plan.copies) v.set(so.data.subarray(c.localOffset, c.localOffset + c.size), base + c.kernOffset);
  for (const f of plan.funcs) view.setBigUint64(base + f.kernOffset, BigInt(progFd(f.prog)), true);
  return v;
}

/**
 * A registered struct_ops map. For a `.struct_ops.link` map, `fd` is the
 * BPF link (closing it unregisters, unless it is pinned); for a plain
 * `.struct_ops` map there is no link (fd -1) and close() unregisters by
 * deleting key 0, unless disconnect() was called first (then it stays
 * registered after this process exits, until `struct_ops unregister`).
 */
export class StructOpsLink extends Link {
  readonly #map: BpfMap;
  readonly #linkFd: number;
  #keep = false;
  /** The struct_ops map's kernel id. */
  readonly mapId: number;

  /** @internal `map` is owned by the link (a duplicate of the collection's). */
  constructor(map: BpfMap, linkFd: number, description: string) {
    super(description);
    this.#map = map;
    this.#linkFd = linkFd;
    this.mapId = map.info().id;
  }

  get fd(): number {
    return this.closed ? -1 : this.#linkFd;
  }

  /** Leave the struct_ops registered when this is closed (a link stays only while pinned). */
  disconnect(): void {
    this.#keep = true;
  }

  protected release(): void {
    if (this.#linkFd >= 0) closeFd(this.#linkFd);
    else if (!this.#keep) {
      try {
        this.#map.delete(0);
      } catch {
        // Already unregistered by someone else (struct_ops unregister): nothing to undo.
      }
    }
    this.#map.close();
  }
}

/** Register `map` (loaded from `so`) with `value`; `own` is a duplicate of the map the link will own. */
export function registerStructOps(name: string, map: BpfMap, own: BpfMap, so: StructOpsMapSpec, value: Uint8Array): StructOpsLink {
  const description = `struct_ops ${so.typeName} ${name}`;
  try {
    map.update(0, value);
    if (!so.link) return new StructOpsLink(own, -1, description);
    // BPF_LINK_CREATE takes the map's fd in prog_fd for struct_ops.
    const fd = linkCreate({ progFd: map.fd, targetFd: 0, attachType: AttachType.STRUCT_OPS }, { object: description });
    try {
      return new StructOpsLink(own, fd, description);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
  } catch (e) {
    own.close();
    throw e;
  }
}
