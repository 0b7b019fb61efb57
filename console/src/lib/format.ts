// How the console writes dates, counts and sizes: one place, so every screen says them alike.
// Dates are shown in Asia/Bangkok whatever the browser's zone (server and browser render the same).

const TIME_ZONE = 'Asia/Bangkok';

const dateParts = new Intl.DateTimeFormat('en-GB', { timeZone: TIME_ZONE, day: '2-digit', month: '2-digit', year: 'numeric' });
const timeParts = new Intl.DateTimeFormat('en-US', { timeZone: TIME_ZONE, hour: 'numeric', minute: '2-digit', second: '2-digit', hour12: true });
const counts = new Intl.NumberFormat('en-US');

function part(parts: Intl.DateTimeFormatPart[], type: Intl.DateTimeFormatPartTypes): string {
  return parts.find((p) => p.type === type)?.value ?? '';
}

/** The date half of the spec's form: `02/08/2020` (dd/mm/yyyy, Bangkok). */
export function formatDate(iso: string): string {
  const parts = dateParts.formatToParts(new Date(iso));
  return `${part(parts, 'day')}/${part(parts, 'month')}/${part(parts, 'year')}`;
}

/** The time half: `5:13:39 PM` (Bangkok). */
export function formatTime(iso: string): string {
  const parts = timeParts.formatToParts(new Date(iso));
  return `${part(parts, 'hour')}:${part(parts, 'minute')}:${part(parts, 'second')} ${part(parts, 'dayPeriod').toUpperCase()}`;
}

/** The spec's form: `02/08/2020 (5:13:39 PM)`, in Asia/Bangkok. */
export function formatDateTime(iso: string): string {
  return `${formatDate(iso)} (${formatTime(iso)})`;
}

/** A count with thousands separators: `334,600`. */
export function formatCount(value: number): string {
  return counts.format(value);
}

/** A file size as people read it: `512 bytes`, `14 KB`, `3.2 MB`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024 / 1024).toFixed(1)} GB`;
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(bytes >= 10 * 1024 * 1024 ? 0 : 1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} byte${bytes === 1 ? '' : 's'}`;
}

/** "1 row", "2 rows". */
export function plural(count: number, word: string): string {
  return `${formatCount(count)} ${word}${count === 1 ? '' : 's'}`;
}
