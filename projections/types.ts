// What a projection is: tables it owns (DDL), the events it handles, and a set-based apply.
import type pg from 'pg';
import type { EventType, ImporterEvent } from '../services/events/types.ts';
import type { Position } from '../services/eventstore/types.ts';

export type PositionedEvent = ImporterEvent & { position: Position };

export interface Projection {
  name: string;
  /** Creates its tables and indexes (idempotent). */
  ddl: string;
  /** Its tables, dropped on rebuild. */
  tables: readonly string[];
  handles: readonly EventType[];
  /** Applies a batch, in order, inside the runner's transaction. */
  apply(client: pg.ClientBase, events: readonly PositionedEvent[]): Promise<void>;
}
