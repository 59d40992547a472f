// Metric series kept outside React: named float64 columns that grow by doubling (an evaluation series is a few
// thousand rows at most, so nothing is ever dropped: exports need every point), with a version counter that
// changes on every write. Charts read the columns directly and redraw on an animation frame only when the
// version they last drew differs.

export class SeriesTable<K extends string = string> {
  private columns: Map<K, Float64Array>;
  private rows = 0;
  private changes = 0;

  constructor(
    readonly keys: readonly K[],
    private capacity = 64,
  ) {
    if (new Set(keys).size !== keys.length) throw new Error(`a series table's keys must be distinct: ${keys.join(', ')}`);
    this.columns = new Map(keys.map((k) => [k, new Float64Array(capacity)]));
  }

  /** Rows held. */
  get length(): number {
    return this.rows;
  }

  /** Changes with every append or clear: a reader that saw version v has seen everything up to it. */
  get version(): number {
    return this.changes;
  }

  has(key: string): key is K {
    return this.columns.has(key as K);
  }

  /** A column's values (a view of the first `length` rows; valid until the next write). */
  column(key: K): Float64Array {
    const column = this.columns.get(key);
    if (!column) throw new Error(`no series "${key}" (series: ${this.keys.join(', ')})`);
    return column.subarray(0, this.rows);
  }

  /** Appends one row; a key the row leaves out gets NaN (drawn as a gap). */
  append(row: Partial<Record<K, number>>): void {
    this.reserve(this.rows + 1);
    for (const [key, column] of this.columns) column[this.rows] = row[key] ?? NaN;
    this.rows += 1;
    this.changes += 1;
  }

  /**
   * Appends `rows` rows packed row-major in `packed`, `order[c]` naming column c of the packing (the keys of
   * the packing this table does not hold are skipped).
   */
  appendPacked(packed: Float64Array, rows: number, order: readonly string[]): void {
    const width = order.length;
    if (packed.length !== rows * width) throw new Error(`packed rows: expected ${rows} x ${width} values, got ${packed.length}`);
    this.reserve(this.rows + rows);
    for (const [key, column] of this.columns) {
      const c = order.indexOf(key);
      for (let r = 0; r < rows; r++) column[this.rows + r] = c < 0 ? NaN : packed[r * width + c];
    }
    this.rows += rows;
    this.changes += 1;
  }

  clear(): void {
    this.rows = 0;
    this.changes += 1;
  }

  /** Row i as an object (for exports and tests). */
  row(i: number): Record<K, number> {
    if (!(i >= 0 && i < this.rows)) throw new RangeError(`row ${i} is outside 0..${this.rows - 1}`);
    return Object.fromEntries(this.keys.map((k) => [k, this.columns.get(k)![i]])) as Record<K, number>;
  }

  private reserve(rows: number): void {
    if (rows <= this.capacity) return;
    while (this.capacity < rows) this.capacity *= 2;
    for (const [key, column] of this.columns) {
      const grown = new Float64Array(this.capacity);
      grown.set(column.subarray(0, this.rows));
      this.columns.set(key, grown);
    }
  }
}
