// The projections, and the runner that replays them from the event store.
//
// In normal operation the processor applies the projections inline, in the transaction that
// moves its checkpoint (services/processor/run.ts). This runner rebuilds them: it drops every read
// model and replays the events after per-projection checkpoints, a batch per transaction together
// with the checkpoints (optimistic: a checkpoint only moves from the value read). A rebuild in
// progress is recorded in projection_rebuild, so one interrupted by a crash is finished before the
// processor decides anything (finishRebuild). It replays decisions only up to the processor's
// last committed output: with EventStoreDB an outcome can be appended before its commit, and the
// processor decides that batch again and applies it itself.
import type pg from 'pg';
import { toImporterEvent } from '../services/events/schemas.ts';
import { OUTCOME_TYPES, type EventType } from '../services/events/types.ts';
import type { EventStore, Position } from '../services/eventstore/types.ts';
import { START, comparePositions } from '../services/eventstore/types.ts';
import { withTransaction } from '../services/db/pool.ts';
import { historyProjection } from './history.ts';
import { errorLogProjection } from './error-log.ts';
import { importLogProjection } from './import-log.ts';
import { profileProjection } from './profile.ts';
import { relationProjection } from './relation.ts';
import type { PositionedEvent, Projection } from './types.ts';
import type { RebuildRecord } from '../schemas/api.ts';
import { lockForTransaction } from '../services/db/locks.ts';

export const PROJECTIONS: readonly Projection[] = [profileProjection, relationProjection, importLogProjection, errorLogProjection, historyProjection];

export class CheckpointConflict extends Error {
  constructor(name: string) {
    super(`checkpoint of ${name} moved under this runner (another runner is active)`);
    this.name = 'CheckpointConflict';
  }
}

const CHECKPOINT_DDL = `
  create table if not exists projection_checkpoint (
    name text primary key,
    position_commit bigint not null,
    position_prepare bigint not null
  );
  create table if not exists projection_rebuild (
    only_row boolean primary key default true check (only_row),
    outcome_limit_commit bigint not null,
    outcome_limit_prepare bigint not null
  );
  -- Every rebuild, kept after it ends (the console lists them): who started it, when it ended and
  -- how. One that failed or was cut short is finished by the next start (finished_after_restart).
  create table if not exists rebuild_log (
    id bigint generated always as identity primary key,
    started_by text not null,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    state text not null default 'running' check (state in ('running', 'done', 'failed')),
    applied bigint not null default 0,
    error text,
    finished_after_restart boolean not null default false
  );
  alter table projection_rebuild add column if not exists log_id bigint;
`;

export async function migrateProjections(pool: pg.Pool, projections: readonly Projection[] = PROJECTIONS): Promise<void> {
  await withTransaction(pool, async (client) => {
    await lockForTransaction(client, 'projections');
    await client.query(CHECKPOINT_DDL);
    for (const projection of projections) {
      await client.query(projection.ddl);
      await client.query(
        'insert into projection_checkpoint (name, position_commit, position_prepare) values ($1, 0, 0) on conflict (name) do nothing',
        [projection.name],
      );
    }
  });
}

export async function readCheckpoints(db: pg.Pool | pg.ClientBase): Promise<Map<string, Position>> {
  const { rows } = await db.query<{ name: string; position_commit: number; position_prepare: number }>(
    'select name, position_commit::text as position_commit, position_prepare::text as position_prepare from projection_checkpoint',
  );
  return new Map(rows.map((r) => [r.name, { commit: BigInt(r.position_commit), prepare: BigInt(r.position_prepare) }]));
}

/** How long a replay waits for older transactions to end before it looks again. */
const HORIZON_WAIT_MS = 25;

/** Where a replay stops: decisions up to `outcomes`; everything read up to `until` at least. */
export interface ReplayLimits {
  outcomes: Position;
  until: Position;
}

/** Told after each batch a rebuild applies: where it is in the global order, and how many events it applied. */
export type RebuildProgress = (at: { position: Position; applied: number }) => void;

export class ProjectionRunner {
  private checkpoints: Map<string, Position> | null = null;
  private cursor: Position | null = null;
  /** While rebuilding: decisions after this position are not replayed. */
  private outcomeLimit: Position | null = null;
  private readonly types: EventType[];

  constructor(
    private readonly store: EventStore,
    private readonly pool: pg.Pool,
    private readonly projections: readonly Projection[] = PROJECTIONS,
    private readonly batchSize = 10_000,
  ) {
    this.types = [...new Set(projections.flatMap((p) => p.handles))];
  }

  /** The lowest checkpoint: every projection has applied everything up to here. */
  async position(): Promise<Position> {
    const checkpoints = await this.loadCheckpoints();
    let lowest: Position | null = null;
    for (const projection of this.projections) {
      const position = checkpoints.get(projection.name) ?? START;
      if (!lowest || comparePositions(position, lowest) < 0) lowest = position;
    }
    return lowest ?? START;
  }

  private async loadCheckpoints(): Promise<Map<string, Position>> {
    if (!this.checkpoints) this.checkpoints = await readCheckpoints(this.pool);
    return this.checkpoints;
  }

  /** Events applied by this runner so far (a rebuild's progress). */
  applied = 0;

  /** Applies one batch; false when there was nothing to read (caught up for now). */
  async step(): Promise<boolean> {
    const committed = await this.position();
    // Rows of other types already looked at need not be read again before the next commit.
    const from = this.cursor && comparePositions(this.cursor, committed) > 0 ? this.cursor : committed;
    const page = await this.store.readAll(from, { maxCount: this.batchSize, types: this.types });
    const stored = page.events;
    if (stored.length === 0) {
      const moved = comparePositions(page.position, from) !== 0;
      this.cursor = page.position;
      return moved;
    }
    const limit = this.outcomeLimit;
    const events: PositionedEvent[] = stored
      .filter((e) => !limit || comparePositions(e.position, limit) <= 0 || !OUTCOME_TYPES.includes(e.type as EventType))
      .map((e) => ({ ...toImporterEvent(e), position: e.position }) as PositionedEvent);
    const last = page.position;
    const checkpoints = await this.loadCheckpoints();
    try {
      await withTransaction(this.pool, async (client) => {
        for (const projection of this.projections) {
          const previous = checkpoints.get(projection.name) ?? START;
          // Checkpoints differ only after a failed batch or a rebuild of one projection; usually
          // every event read is new to every projection and only the type matters.
          const behind = comparePositions(previous, from) <= 0;
          const mine = events.filter((e) => projection.handles.includes(e.type) && (behind || comparePositions(e.position, previous) > 0));
          await projection.apply(client, mine);
          const { rowCount } = await client.query(
            `update projection_checkpoint set position_commit = $2, position_prepare = $3
              where name = $1 and position_commit = $4 and position_prepare = $5`,
            [projection.name, String(last.commit), String(last.prepare), String(previous.commit), String(previous.prepare)],
          );
          if (rowCount !== 1) throw new CheckpointConflict(projection.name);
        }
      });
    } catch (error) {
      this.checkpoints = null;
      this.cursor = null;
      throw error;
    }
    for (const projection of this.projections) checkpoints.set(projection.name, last);
    this.cursor = last;
    this.applied += events.length;
    return true;
  }

  /**
   * Runs until nothing is left to read right now (tolerating another runner doing the same), or,
   * given `until`, until it has read that far: $all shows only what is older than the oldest
   * transaction running anywhere in the PostgreSQL cluster, so "nothing to read right now" can
   * come before the processor's last commits while an older transaction is still open.
   */
  async catchUp(progress?: RebuildProgress, until?: Position): Promise<void> {
    for (;;) {
      try {
        if (await this.step()) {
          progress?.({ position: this.cursor ?? START, applied: this.applied });
          continue;
        }
        if (!until || comparePositions(this.cursor ?? (await this.position()), until) >= 0) return;
        await new Promise((resolve) => setTimeout(resolve, HORIZON_WAIT_MS));
      } catch (error) {
        if (!(error instanceof CheckpointConflict)) throw error;
      }
    }
  }

  /** The rebuild_log row of the rebuild this runner started (null: none). */
  private startedLog: string | null = null;

  /**
   * Drops every read model and rebuilds it from the event store, logged in rebuild_log as started
   * by `by`. The caller keeps the processor stopped meanwhile (the engine's leader lock).
   */
  async rebuild(by: string, progress?: RebuildProgress, startedAt = new Date()): Promise<RebuildRecord> {
    this.applied = 0;
    this.startedLog = await withTransaction(this.pool, async (client) => {
      await lockForTransaction(client, 'projections');
      for (const projection of this.projections) {
        for (const table of projection.tables) await client.query(`drop table if exists ${table}`);
        await client.query(projection.ddl);
        await client.query('update projection_checkpoint set position_commit = 0, position_prepare = 0 where name = $1', [projection.name]);
      }
      // A rebuild started while another was cut short replaces it: that one is logged as failed.
      await client.query(
        `update rebuild_log set state = 'failed', finished_at = now(), error = coalesce(error, 'cut short, then replaced by the rebuild after it')
          where id = (select log_id from projection_rebuild)`,
      );
      const { rows } = await client.query<{ id: string }>('insert into rebuild_log (started_by, started_at) values ($1, $2) returning id::text', [by, startedAt]);
      const logId = rows[0]!.id;
      // The processor's last committed output (see the header); its table belongs to the processor.
      await client.query(
        `insert into projection_rebuild (outcome_limit_commit, outcome_limit_prepare, log_id)
         select last_output_commit, last_output_prepare, $1 from processor_checkpoint where name = 'processor'
         on conflict (only_row) do update set outcome_limit_commit = excluded.outcome_limit_commit,
           outcome_limit_prepare = excluded.outcome_limit_prepare, log_id = excluded.log_id`,
        [logId],
      );
      return logId;
    });
    this.checkpoints = null;
    this.cursor = null;
    try {
      await this.finishRebuild(progress);
      return (await ProjectionRunner.history(this.pool, 1, this.startedLog))[0]!;
    } catch (error) {
      // Logged as failed; it stays recorded in projection_rebuild, so the next start finishes it.
      await this.pool.query(
        "update rebuild_log set state = 'failed', finished_at = now(), applied = applied + $2, error = $3 where id = $1",
        [this.startedLog, this.applied, (error as Error).message],
      ).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Replays every event into these (empty) read models, decisions up to `limits.outcomes` only
   * (what the processor committed), and reads at least up to `limits.until` (the processor's
   * checkpoint or its last output, whichever is later).
   */
  async replayUpTo(limits: ReplayLimits, progress?: RebuildProgress): Promise<void> {
    this.outcomeLimit = limits.outcomes;
    try {
      await this.catchUp(progress, comparePositions(limits.until, limits.outcomes) > 0 ? limits.until : limits.outcomes);
    } finally {
      this.outcomeLimit = null;
    }
  }

  /** Finishes a rebuild that was started, perhaps by a process that crashed; false when there is none. */
  async finishRebuild(progress?: RebuildProgress): Promise<boolean> {
    // The processor has not moved since the rebuild began (it waits for it): everything it read
    // and projected inline is at or before its checkpoint.
    const { rows } = await this.pool.query<{ commit: string; prepare: string; read_commit: string | null; read_prepare: string | null; log_id: string | null }>(
      `select outcome_limit_commit::text as commit, outcome_limit_prepare::text as prepare,
              p.position_commit::text as read_commit, p.position_prepare::text as read_prepare, log_id::text
         from projection_rebuild left join processor_checkpoint p on p.name = 'processor'`,
    );
    const row = rows[0];
    if (!row) return false;
    const outcomes = { commit: BigInt(row.commit), prepare: BigInt(row.prepare) };
    const until = row.read_commit === null ? outcomes : { commit: BigInt(row.read_commit), prepare: BigInt(row.read_prepare!) };
    const appliedBefore = this.applied;
    await this.replayUpTo({ outcomes, until }, progress);
    await withTransaction(this.pool, async (client) => {
      await client.query('delete from projection_rebuild');
      // A rebuild another run started (one that failed, or a process that stopped) is finished here.
      await client.query(
        `update rebuild_log set state = 'done', finished_at = now(), applied = applied + $2, finished_after_restart = $3
          where id = $1`,
        [row.log_id, this.applied - appliedBefore, row.log_id !== this.startedLog],
      );
    });
    return true;
  }

  /** The rebuilds logged, newest first (from `upTo`, a log id, when given). */
  static async history(db: pg.Pool, limit = 20, upTo: string | null = null): Promise<RebuildRecord[]> {
    const { rows } = await db.query<{
      id: string; started_by: string; started_at: Date; finished_at: Date | null; state: RebuildRecord['state'];
      applied: string; error: string | null; finished_after_restart: boolean;
    }>('select id::text, started_by, started_at, finished_at, state, applied::text, error, finished_after_restart from rebuild_log where $2::bigint is null or id <= $2 order by id desc limit $1', [limit, upTo]);
    return rows.map((r) => ({
      id: Number(r.id), state: r.state, startedBy: r.started_by, startedAt: r.started_at.toISOString(), finishedAt: r.finished_at?.toISOString() ?? null,
      applied: Number(r.applied), error: r.error, finishedAfterRestart: r.finished_after_restart,
    }));
  }
}
