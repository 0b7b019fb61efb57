// How many rows a query's plan actually read from a table: EXPLAIN ANALYZE in JSON, the scans of
// that table summed. Tests use it to prove a query reads about a page whatever the planner's
// statistics say (a paged read costs its length, not its square).
import type pg from 'pg';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  Plans?: PlanNode[];
}

function rowsRead(node: PlanNode, table: string): number {
  if (/Scan/.test(node['Node Type']) && node['Relation Name'] === table) return node['Actual Rows'];
  return (node.Plans ?? []).reduce((sum, child) => sum + rowsRead(child, table), 0);
}

/** Runs the query under EXPLAIN ANALYZE; the rows its scans of `table` produced. */
export async function rowsScanned(db: Pick<pg.Pool, 'query'>, table: string, sql: string, values: unknown[]): Promise<number> {
  const { rows } = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`explain (analyze, format json) ${sql}`, values);
  return rowsRead(rows[0]!['QUERY PLAN'][0].Plan, table);
}
