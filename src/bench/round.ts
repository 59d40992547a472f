// Numbers in the benchmark's JSON: four significant digits, so runs compare at a glance.
export function round(x: number): number {
  return Number(x.toPrecision(4));
}

export function roundAll<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v])) as T;
}
