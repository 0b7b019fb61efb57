// Set-based writes for projections: one COPY per table per batch (services/db/copy-text.ts).
import type pg from 'pg';
import { CopyTextWriter, copyIn } from '../services/db/copy-text.ts';

export type CopyValue = string | number | bigint | boolean | null | readonly string[];

/** PostgreSQL array literal: every element quoted, so commas and braces inside are data. */
function arrayLiteral(items: readonly string[]): string {
  let out = '{';
  for (let i = 0; i < items.length; i++) {
    if (i) out += ',';
    out += `"${items[i]!.replace(/[\\"]/g, '\\$&')}"`;
  }
  return `${out}}`;
}

export async function copyRows(client: pg.ClientBase, table: string, columns: readonly string[], rows: readonly CopyValue[][]): Promise<void> {
  if (rows.length === 0) return;
  const writer = new CopyTextWriter();
  for (const row of rows) {
    for (const value of row) {
      if (value === null) writer.null();
      else if (typeof value === 'string') writer.text(value);
      else if (typeof value === 'boolean') writer.plain(value ? 't' : 'f');
      else if (typeof value === 'number' || typeof value === 'bigint') writer.plain(value);
      else writer.text(arrayLiteral(value));
    }
    writer.endRow();
  }
  await copyIn(client, table, columns.join(', '), writer);
}
