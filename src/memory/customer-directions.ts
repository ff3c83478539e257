import type { Database } from "bun:sqlite";
import usearch from "usearch";
import { customerDirection } from "./customer-vector";

type CustomerRow = { customer_id: string; weight: number; sum: Uint8Array; version: number };

/**
 * This process's view of every customer's unit behaviour vector (customers × dimensions floats,
 * not the events'), refreshed from the `customers` table by version so other processes' writes
 * show at the next call. Rows stay dense: a removed customer's row is filled by the last one.
 */
export class CustomerDirections {
  private matrix: Float32Array;
  private ids: string[] = [];
  private readonly rowOf = new Map<string, number>();
  private version = 0;

  constructor(private readonly dimensions: number) {
    this.matrix = new Float32Array(1024 * dimensions);
  }

  /** Applies up to `maxRows` changed customers; returns whether it is up to date. */
  refresh(db: Database, maxRows = Number.MAX_SAFE_INTEGER): boolean {
    const rows = db
      .query<CustomerRow, [number, number]>("SELECT customer_id, weight, sum, version FROM customers WHERE version > ? ORDER BY version LIMIT ?")
      .all(this.version, maxRows);
    for (const r of rows) {
      const direction = customerDirection({ weight: r.weight, refTs: 0, sum: new Float64Array(r.sum.slice().buffer) });
      if (direction) this.put(r.customer_id, direction);
      else this.remove(r.customer_id);
      this.version = r.version;
    }
    return rows.length < maxRows;
  }

  similar(customerId: string, k: number): { customerId: string; score: number }[] {
    const self = this.rowOf.get(customerId);
    if (self === undefined || this.ids.length < 2) return [];
    const d = this.dimensions;
    const query = this.matrix.slice(self * d, (self + 1) * d);
    const wanted = Math.min(this.ids.length, k + 1);
    const result = usearch.exactSearch(this.matrix.subarray(0, this.ids.length * d), query, d, wanted, usearch.MetricKind.IP, 1);
    if (!(result instanceof usearch.Matches)) throw new Error("exactSearch: expected one result row");
    const out: { customerId: string; score: number }[] = [];
    for (let i = 0; i < wanted; i++) {
      const row = Number(result.keys[i]!);
      if (row !== self) out.push({ customerId: this.ids[row]!, score: 1 - result.distances[i]! });
    }
    return out.slice(0, k);
  }

  private put(customerId: string, direction: Float32Array): void {
    let row = this.rowOf.get(customerId);
    if (row === undefined) {
      row = this.ids.length;
      if ((row + 1) * this.dimensions > this.matrix.length) {
        const grown = new Float32Array(this.matrix.length * 2);
        grown.set(this.matrix);
        this.matrix = grown;
      }
      this.ids.push(customerId);
      this.rowOf.set(customerId, row);
    }
    this.matrix.set(direction, row * this.dimensions);
  }

  private remove(customerId: string): void {
    const row = this.rowOf.get(customerId);
    if (row === undefined) return;
    const d = this.dimensions;
    const last = this.ids.length - 1;
    if (row !== last) {
      this.matrix.copyWithin(row * d, last * d, (last + 1) * d);
      this.ids[row] = this.ids[last]!;
      this.rowOf.set(this.ids[row]!, row);
    }
    this.matrix.fill(0, last * d, (last + 1) * d);
    this.ids.pop();
    this.rowOf.delete(customerId);
  }
}
