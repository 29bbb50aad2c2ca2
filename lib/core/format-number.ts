/**
 * Numbers for people, in reports, messages and tables: significant digits, thousands separated.
 * Pure; in core so that every layer formats alike.
 */

/** An integer count with thousands separators: `4,812`. */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return groupThousands(String(Math.round(Math.abs(value))), value < 0);
}

/**
 * A measured value for people: `significant` significant digits, trailing zeros dropped, thousands
 * separated (`31.2`, `4,812`, `0.0021`); tiny values in exponent notation; `n/a` for NaN (or a null
 * read back from JSON), `∞` for infinity.
 */
export function formatNumber(value: number, significant = 3): string {
  if (typeof value !== 'number' || Number.isNaN(value)) return 'n/a';
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '-∞';
  if (value === 0) return '0';
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  if (magnitude < -6) return Number(value.toPrecision(significant)).toExponential();
  const decimals = Math.min(20, Math.max(0, significant - 1 - magnitude));
  const fixed = Math.abs(value).toFixed(decimals);
  const [whole, fraction = ''] = fixed.split('.');
  const trimmed = fraction.replace(/0+$/, '');
  const text = groupThousands(whole, value < 0 && Number(fixed) !== 0);
  return trimmed === '' ? text : `${text}.${trimmed}`;
}

function groupThousands(digits: string, negative: boolean): string {
  return `${negative ? '-' : ''}${digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}`;
}
