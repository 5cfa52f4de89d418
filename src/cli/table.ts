/**
 * Output for people and for scripts: aligned tables by default, JSON with `--json`.
 */

export type Cell = string | number | bigint | null | undefined;

/**
 * Renders rows under upper-case headers, columns two spaces apart. Columns of numbers (and
 * empty cells) are right-aligned so that digits line up; empty cells show as `-`
 * so that a column never looks shifted.
 */
export function renderTable(headers: string[], rows: Cell[][]): string {
  const text = rows.map((row) => headers.map((_, i) => cellText(row[i])));
  const numeric = headers.map((_, i) => rows.some((row) => typeof row[i] === 'number' || typeof row[i] === 'bigint') && rows.every((row) => isNumeric(row[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(headers.map((h) => h.toUpperCase())), ...text.map(line)].join('\n')}\n`;
}

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined || cell === '') return '-';
  return String(cell);
}

function isNumeric(cell: Cell): boolean {
  return cell === null || cell === undefined || typeof cell === 'number' || typeof cell === 'bigint';
}

/**
 * JSON for scripts. Offsets are bigints in the client; they become plain numbers while they
 * are exact (always, in practice) and strings beyond 2^53, so no value is ever rounded.
 */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v), 2)}\n`;
}

/** 1234567 → "1,234,567": counts people read at a glance. */
export function formatCount(n: number | bigint): string {
  return typeof n === 'bigint' ? n.toLocaleString('en-US') : Math.round(n).toLocaleString('en-US');
}

/** A number with `digits` significant digits at most, without exponent notation. */
export function formatNumber(n: number, digits = 3): string {
  if (!Number.isFinite(n)) return String(n);
  if (n === 0) return '0';
  const magnitude = Math.floor(Math.log10(Math.abs(n)));
  const decimals = Math.max(0, digits - 1 - magnitude);
  return n.toFixed(Math.min(decimals, 6));
}
