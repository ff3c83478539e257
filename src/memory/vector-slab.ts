import usearch from "usearch";
import { applyEvent, customerDirection, emptyCustomerVector, mergeCustomerVector, type CustomerVector } from "./customer-vector";
import { lifecycleStages, type MemoryFilter, type MemoryStage } from "./memory-store";
import { TopK } from "./top-k";

type CustomerEntry = { id: string; idx: number; slots: number[]; cv: CustomerVector };
export type SlotHit = { slot: number; score: number };

// Below this many filter matches a JS scan of just the matches beats a native scan of everything.
const JS_SCAN_MAX = 100_000;
// Vectors live in chunks of this many rows, each its own ArrayBuffer: exactSearch reads a buffer
// from its start, and its scratch space (8 bytes per row, twice) then stays at 256 KB per call
// instead of 16 MB per query at 1M points; growth never copies the whole slab either.
const CHUNK_ROWS = 16_384;

const stageIndex = new Map<MemoryStage, number>(lifecycleStages.map((s, i) => [s, i]));

/**
 * Every vector in chunked Float32Arrays (slot-indexed, swap-removed so they stay dense),
 * with the filterable payload fields in parallel typed arrays. Per-customer search scans the
 * customer's own slots; global search is an exact native SIMD scan (usearch exactSearch).
 */
export class VectorSlab {
  size = 0;
  private capacity = 0;
  private readonly chunks: Float32Array[] = [];
  private customerOf = new Int32Array(0);
  private positionInCustomer = new Int32Array(0);
  private tsOf = new Float64Array(0);
  private typeOf = new Int32Array(0);
  private stageOf = new Uint8Array(0);
  private rowidOf = new Float64Array(0);
  private readonly slotOfRowid = new Map<number, number>();
  private readonly customers = new Map<string, CustomerEntry>();
  private readonly customerById: (CustomerEntry | undefined)[] = [];
  private readonly typeIds = new Map<string, number>();
  // Unit customer vectors by customer idx, refreshed lazily from `dirtyCustomers`.
  private directions = new Float32Array(0);
  private readonly dirtyCustomers = new Set<number>();

  constructor(
    readonly dimensions: number,
    private readonly halfLifeMs: number,
  ) {}

  /** Inserts or overwrites the point stored under `rowid`; `vector` must be unit length. */
  put(rowid: number, customerId: string, type: string, stage: MemoryStage, ts: number, vector: ArrayLike<number>): void {
    const existing = this.slotOfRowid.get(rowid);
    if (existing !== undefined) this.removeSlot(existing);
    const slot = this.size++;
    this.ensureCapacity(this.size);
    const customer = this.customer(customerId, ts);
    this.vectorOf(slot).set(vector);
    this.customerOf[slot] = customer.idx;
    this.positionInCustomer[slot] = customer.slots.length;
    customer.slots.push(slot);
    this.tsOf[slot] = ts;
    this.typeOf[slot] = this.typeId(type);
    this.stageOf[slot] = stageIndex.get(stage)!;
    this.rowidOf[slot] = rowid;
    this.slotOfRowid.set(rowid, slot);
    applyEvent(customer.cv, vector, ts, this.halfLifeMs);
    this.dirtyCustomers.add(customer.idx);
  }

  /** Removes the point stored under `rowid`, if any. */
  removeRow(rowid: number): void {
    const slot = this.slotOfRowid.get(rowid);
    if (slot === undefined) return;
    const customer = this.customerById[this.customerOf[slot]!]!;
    this.removeSlot(slot);
    if (customer.slots.length === 0 && customer.cv.weight === 0) {
      this.customers.delete(customer.id);
      this.customerById[customer.idx] = undefined;
    }
  }

  rowid(slot: number): number {
    return this.rowidOf[slot]!;
  }

  countOf(customerId?: string): number {
    return customerId === undefined ? this.size : (this.customers.get(customerId)?.slots.length ?? 0);
  }

  rowidsOf(customerId: string): number[] {
    return this.customers.get(customerId)?.slots.map((slot) => this.rowidOf[slot]!) ?? [];
  }

  /** Removes every point of the customer; returns their rowids. */
  removeCustomer(customerId: string): number[] {
    const customer = this.customers.get(customerId);
    if (!customer) return [];
    const rowids = customer.slots.map((slot) => this.rowidOf[slot]!);
    for (const rowid of rowids) this.removeSlot(this.slotOfRowid.get(rowid)!);
    this.customers.delete(customerId);
    this.customerById[customer.idx] = undefined;
    this.dirtyCustomers.add(customer.idx);
    return rowids;
  }

  reassign(fromId: string, toId: string): void {
    const from = this.customers.get(fromId);
    if (!from || fromId === toId) return;
    const to = this.customer(toId, from.cv.refTs);
    for (const slot of from.slots) {
      this.customerOf[slot] = to.idx;
      this.positionInCustomer[slot] = to.slots.length;
      to.slots.push(slot);
    }
    mergeCustomerVector(to.cv, from.cv, this.halfLifeMs);
    this.customers.delete(fromId);
    this.customerById[from.idx] = undefined;
    this.dirtyCustomers.add(from.idx).add(to.idx);
  }

  customerIdOf(slot: number): string {
    return this.customerById[this.customerOf[slot]!]!.id;
  }

  searchCustomer(customerId: string, query: Float32Array, filter: MemoryFilter, limit: number): SlotHit[] {
    const customer = this.customers.get(customerId);
    if (!customer) return [];
    const matches = this.compileFilter(filter);
    const top = new TopK(limit);
    for (const slot of customer.slots) if (matches(slot)) top.push(slot, this.dot(slot, query));
    return top.entries().map(({ item, score }) => ({ slot: item, score }));
  }

  searchGlobal(query: Float32Array, filter: MemoryFilter, limit: number): SlotHit[] {
    if (this.size === 0) return [];
    if (!hasFilter(filter)) return this.chunkedScan(query, limit);
    const matches = this.compileFilter(filter);
    const matching: number[] = [];
    for (let slot = 0; slot < this.size; slot++) if (matches(slot)) matching.push(slot);
    if (matching.length <= JS_SCAN_MAX) return this.scanSlots(matching, query, limit);
    // Common filter: oversample the unfiltered scan, then fall back to scanning the matches.
    const wanted = Math.min(this.size, Math.ceil((limit * this.size * 2) / matching.length) + 50);
    const hits = this.chunkedScan(query, wanted).filter((h) => matches(h.slot));
    if (hits.length >= limit || wanted === this.size) return hits.slice(0, limit);
    return this.gatheredScan(matching, query, limit);
  }

  /** A copy of the customer's running sums, if it has any. */
  customerVector(customerId: string): CustomerVector | undefined {
    const cv = this.customers.get(customerId)?.cv;
    return cv && { sum: Float64Array.from(cv.sum), weight: cv.weight, refTs: cv.refTs };
  }

  similarCustomers(customerId: string, k: number): { customerId: string; score: number }[] {
    const self = this.customers.get(customerId);
    if (!self) return [];
    this.refreshDirections();
    const d = this.dimensions;
    const query = this.directions.slice(self.idx * d, (self.idx + 1) * d);
    if (query.every((x) => x === 0)) return [];
    const rows = this.customerById.length;
    // Erased and emptied customers are zero rows; ask for enough extra to skip past them.
    const wanted = Math.min(rows, k + 1 + (rows - this.customers.size));
    return this.nativeScan(this.directions, rows, query, wanted, (row) => row)
      .map(({ slot: idx, score }) => ({ entry: this.customerById[idx], idx, score }))
      .filter(({ entry, idx }) => entry !== undefined && idx !== self.idx && entry.cv.weight > 0)
      .slice(0, k)
      .map(({ entry, score }) => ({ customerId: entry!.id, score }));
  }

  private refreshDirections(): void {
    const d = this.dimensions;
    const rows = this.customerById.length;
    if (this.directions.length < rows * d) this.directions = grow(this.directions, Math.max(1024, rows * 2) * d, Float32Array);
    for (const idx of this.dirtyCustomers) {
      const entry = this.customerById[idx];
      const direction = entry && customerDirection(entry.cv);
      if (direction) this.directions.set(direction, idx * d);
      else this.directions.fill(0, idx * d, (idx + 1) * d);
    }
    this.dirtyCustomers.clear();
  }

  private scanSlots(slots: number[], query: Float32Array, limit: number): SlotHit[] {
    const top = new TopK(limit);
    for (const slot of slots) top.push(slot, this.dot(slot, query));
    return top.entries().map(({ item, score }) => ({ slot: item, score }));
  }

  private gatheredScan(slots: number[], query: Float32Array, limit: number): SlotHit[] {
    // exactSearch reads the ArrayBuffer from its start, so the gathered copy gets its own buffer.
    const gathered = new Float32Array(slots.length * this.dimensions);
    slots.forEach((slot, i) => gathered.set(this.vectorOf(slot), i * this.dimensions));
    return this.nativeScan(gathered, slots.length, query, limit, (i) => slots[i]!);
  }

  private chunkedScan(query: Float32Array, limit: number): SlotHit[] {
    if (this.size <= CHUNK_ROWS) return this.nativeScan(this.chunks[0]!, this.size, query, limit, (row) => row);
    const top = new TopK(limit);
    for (let c = 0; c * CHUNK_ROWS < this.size; c++) {
      const rows = Math.min(CHUNK_ROWS, this.size - c * CHUNK_ROWS);
      const base = c * CHUNK_ROWS;
      for (const hit of this.nativeScan(this.chunks[c]!, rows, query, limit, (row) => base + row)) top.push(hit.slot, hit.score);
    }
    return top.entries().map(({ item, score }) => ({ slot: item, score }));
  }

  private nativeScan(data: Float32Array, rows: number, query: Float32Array, limit: number, toSlot: (row: number) => number): SlotHit[] {
    const k = Math.min(limit, rows);
    const dataset = data.subarray(0, rows * this.dimensions);
    const result = usearch.exactSearch(dataset, query, this.dimensions, k, usearch.MetricKind.IP, 1);
    if (!(result instanceof usearch.Matches)) throw new Error("exactSearch: expected one result row");
    const hits: SlotHit[] = [];
    for (let i = 0; i < k; i++) hits.push({ slot: toSlot(Number(result.keys[i]!)), score: 1 - result.distances[i]! });
    return hits;
  }

  private vectorOf(slot: number): Float32Array {
    const d = this.dimensions;
    const offset = (slot % CHUNK_ROWS) * d;
    return this.chunks[Math.floor(slot / CHUNK_ROWS)]!.subarray(offset, offset + d);
  }

  private dot(slot: number, query: Float32Array): number {
    const v = this.chunks[Math.floor(slot / CHUNK_ROWS)]!;
    const offset = (slot % CHUNK_ROWS) * this.dimensions;
    let s = 0;
    for (let i = 0; i < this.dimensions; i++) s += v[offset + i]! * query[i]!;
    return s;
  }

  private compileFilter(filter: MemoryFilter): (slot: number) => boolean {
    let typeMask: Uint8Array | undefined;
    if (filter.types) {
      typeMask = new Uint8Array(this.typeIds.size);
      for (const t of filter.types) {
        const id = this.typeIds.get(t);
        if (id !== undefined) typeMask[id] = 1;
      }
    }
    let stageBits = 0xff;
    if (filter.stages) stageBits = filter.stages.reduce((bits, s) => bits | (1 << stageIndex.get(s)!), 0);
    const since = filter.since ?? -Infinity;
    const until = filter.until ?? Infinity;
    const { tsOf, typeOf, stageOf } = this;
    return (slot) => {
      const ts = tsOf[slot]!;
      return ts >= since && ts < until && (typeMask === undefined || typeMask[typeOf[slot]!] === 1) && ((1 << stageOf[slot]!) & stageBits) !== 0;
    };
  }

  private removeSlot(slot: number): void {
    const customer = this.customerById[this.customerOf[slot]!]!;
    applyEvent(customer.cv, this.vectorOf(slot), this.tsOf[slot]!, this.halfLifeMs, -1);
    this.dirtyCustomers.add(customer.idx);
    this.detachFromCustomer(slot, customer);
    this.slotOfRowid.delete(this.rowidOf[slot]!);
    const last = --this.size;
    if (slot !== last) this.moveSlot(last, slot);
    this.vectorOf(last).fill(0);
  }

  private detachFromCustomer(slot: number, customer: CustomerEntry): void {
    const position = this.positionInCustomer[slot]!;
    const moved = customer.slots.pop()!;
    if (moved !== slot) {
      customer.slots[position] = moved;
      this.positionInCustomer[moved] = position;
    }
  }

  private moveSlot(from: number, to: number): void {
    this.vectorOf(to).set(this.vectorOf(from));
    this.customerOf[to] = this.customerOf[from]!;
    this.positionInCustomer[to] = this.positionInCustomer[from]!;
    this.tsOf[to] = this.tsOf[from]!;
    this.typeOf[to] = this.typeOf[from]!;
    this.stageOf[to] = this.stageOf[from]!;
    this.rowidOf[to] = this.rowidOf[from]!;
    this.slotOfRowid.set(this.rowidOf[to]!, to);
    this.customerById[this.customerOf[to]!]!.slots[this.positionInCustomer[to]!] = to;
  }

  private customer(customerId: string, ts: number): CustomerEntry {
    let entry = this.customers.get(customerId);
    if (!entry) {
      entry = { id: customerId, idx: this.customerById.length, slots: [], cv: emptyCustomerVector(this.dimensions, ts) };
      this.customers.set(customerId, entry);
      this.customerById.push(entry);
    }
    return entry;
  }

  private typeId(type: string): number {
    let id = this.typeIds.get(type);
    if (id === undefined) this.typeIds.set(type, (id = this.typeIds.size));
    return id;
  }

  /** Pre-sizes the arrays, e.g. to the row count at open, so loading never over-allocates. */
  reserve(points: number): void {
    if (points > this.capacity) this.resize(points);
  }

  private ensureCapacity(wanted: number): void {
    // 1.5× growth: doubling a 400 MB slab would briefly need 1.2 GB.
    if (wanted > this.capacity) this.resize(Math.max(1024, Math.ceil(this.capacity * 1.5), wanted));
  }

  private resize(capacity: number): void {
    while (this.chunks.length * CHUNK_ROWS < capacity) this.chunks.push(new Float32Array(CHUNK_ROWS * this.dimensions));
    this.customerOf = grow(this.customerOf, capacity, Int32Array);
    this.positionInCustomer = grow(this.positionInCustomer, capacity, Int32Array);
    this.tsOf = grow(this.tsOf, capacity, Float64Array);
    this.typeOf = grow(this.typeOf, capacity, Int32Array);
    this.stageOf = grow(this.stageOf, capacity, Uint8Array);
    this.rowidOf = grow(this.rowidOf, capacity, Float64Array);
    this.capacity = capacity;
  }
}

type TypedArrayOf<T> = { new (length: number): T };
function grow<T extends Float32Array | Float64Array | Int32Array | Uint8Array>(old: T, length: number, Ctor: TypedArrayOf<T>): T {
  const next = new Ctor(length);
  next.set(old as never);
  return next;
}

function hasFilter(filter: MemoryFilter): boolean {
  return filter.types !== undefined || filter.stages !== undefined || filter.since !== undefined || filter.until !== undefined;
}
