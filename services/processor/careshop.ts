// Care Shop's rules: the spec's "Customer profile sync process".
//  1. A record already in the history log is skipped (checked before anything else: valid or not).
//  2. The mobile phone is one number of the Thai numbering plan; the email, when present, one
//     address; first and last name are mandatory. An invalid record goes to the error log (and to
//     the history, as rejected).
//  3. The phone is looked up among existing profiles: when a profile holding it has exactly the
//     same first and last name, nothing happens (skipped; the history names the profile); otherwise
//     a new profile is created (even though the phone is duplicated) and the customer id is linked
//     to it (original_source careshop).
//  4. Every processed record is logged to the history (RecordSynced).
import { eventId, newCareosId } from '../events/ids.ts';
import type { RowReason, SkipCode } from '../events/types.ts';
import { checkEmails, checkPhones, checkRequiredText } from './fields.ts';
import { isStorableText } from './storable.ts';
import { fileSource } from '../../schemas/api.ts';
import { ReasonCollector, linkEvents, outcomeMetadata, profileCreated, type DecidedEvent, type ReceivedRow, type SourceRules } from './rules.ts';

export interface CareshopRow {
  customerId: string;
  firstname: string;
  lastname: string;
  /** E.164. */
  phone: string;
  email: string | null;
  /** When the shop last changed the record (ISO-8601), from table syncs; null for files. */
  updatedAt: string | null;
}

const THAI_PREFIX = '+66';

function multipleReason(field: string, raw: string, what: string, example: string): RowReason {
  return {
    field, code: 'multiple-values',
    message: `${field} ${JSON.stringify(raw)} holds more than one ${what}; a Care Shop record carries a single one (e.g. ${example})`,
  };
}

function checkMobilePhone(raw: string): { value: string; reasons: RowReason[] } {
  const field = 'mobile_phone';
  if (raw.includes(',')) return { value: '', reasons: [multipleReason(field, raw, 'number', '081-234-5678')] };
  const phones = checkPhones(raw, { required: true, field });
  if (phones.reasons.length) return { value: '', reasons: [...phones.reasons] };
  const phone = phones.value[0]!;
  if (!phone.startsWith(THAI_PREFIX)) {
    return {
      value: '',
      reasons: [{
        field, code: 'invalid-phone',
        message: `${field} ${JSON.stringify(raw.trim())} is not a Thai number (Care Shop numbers must fit the Thai numbering plan, e.g. 081-234-5678 or +66 81 234 5678)`,
      }],
    };
  }
  return { value: phone, reasons: [] };
}

function checkEmail(raw: string): { value: string | null; reasons: RowReason[] } {
  if (raw.includes(',')) return { value: null, reasons: [multipleReason('email', raw, 'address', 'suda@example.co.th')] };
  const emails = checkEmails(raw);
  return { value: emails.value[0] ?? null, reasons: [...emails.reasons] };
}

/** updated_at as an ISO instant; null when empty or not a date and time. */
function updatedAtOf(record: Record<string, string>): string | null {
  const value = (record.updated_at ?? '').trim();
  const time = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(time) ? null : new Date(time).toISOString();
}

function checkUpdatedAt(record: Record<string, string>): { value: string | null; reasons: RowReason[] } {
  const value = (record.updated_at ?? '').trim();
  const instant = updatedAtOf(record);
  if (value !== '' && instant === null) {
    return {
      value: null,
      reasons: [{ field: 'updated_at', code: 'invalid-date', message: `updated_at ${JSON.stringify(value)} is not an ISO-8601 date and time (e.g. 2026-11-30T09:15:00Z), or leave it empty` }],
    };
  }
  return { value: instant, reasons: [] };
}

/** RowSkipped for a received row: its record was synced before, or it matched a profile exactly. */
function rowSkipped(received: ReceivedRow, originalId: string, code: SkipCode, message: string, careosId: string | null): DecidedEvent {
  const { importId, source, row } = received.data;
  return {
    id: eventId(importId, row, 'skipped'),
    event: {
      type: 'RowSkipped',
      data: { importId, source, row, originalId, code, message, careosId, sourceUpdatedAt: updatedAtOf(received.data.record) },
      metadata: outcomeMetadata(received),
    },
  };
}

function synced(received: ReceivedRow, originalId: string, outcome: 'created' | 'matched' | 'rejected', careosId: string | null): DecidedEvent {
  const { importId, source, row } = received.data;
  return {
    id: eventId(importId, row, 'synced'),
    event: {
      type: 'RecordSynced',
      data: { importId, source, row, originalId, outcome, careosId, sourceUpdatedAt: updatedAtOf(received.data.record) },
      metadata: outcomeMetadata(received),
    },
  };
}

export const careshop: SourceRules<CareshopRow> = {
  name: 'careshop',
  label: 'Care Shop',
  columns: fileSource('careshop')!.columns,

  check(record) {
    const c = new ReasonCollector();
    const row: CareshopRow = {
      customerId: c.take(checkRequiredText('customer_id', record.customer_id ?? '')),
      firstname: c.take(checkRequiredText('firstname', record.firstname ?? '')),
      lastname: c.take(checkRequiredText('lastname', record.lastname ?? '')),
      phone: c.take(checkMobilePhone(record.mobile_phone ?? '')),
      email: c.take(checkEmail(record.email ?? '')),
      updatedAt: c.take(checkUpdatedAt(record)),
    };
    return c.reasons.length ? { ok: false, reasons: c.reasons } : { ok: true, value: row };
  },

  keys(row) {
    return { careosIds: [], phones: [], originalIds: [row.customerId], namedPhones: [row.phone] };
  },

  decide(row, received, state) {
    const { importId, row: rowNumber } = received.data;
    const match = state.profilesWithPhone(row.phone).find((careosId) => {
      const names = state.profileNames(careosId);
      return names !== undefined && names.firstname === row.firstname && names.lastname === row.lastname;
    });
    if (match !== undefined) {
      return {
        outcome: 'skipped',
        events: [
          rowSkipped(
            received, row.customerId, 'matched-profile',
            `mobile_phone ${JSON.stringify((received.data.record.mobile_phone ?? '').trim())} (${row.phone}) and the names "${row.firstname} ${row.lastname}" match CareOS profile ${match} exactly: nothing to import`,
            match,
          ),
          synced(received, row.customerId, 'matched', match),
        ],
      };
    }
    // Not matched, or matched by phone only: a new profile, though the phone may be duplicated.
    const careosId = newCareosId(importId, rowNumber);
    return {
      outcome: 'imported',
      events: [
        profileCreated(received, careosId, {
          firstname: row.firstname, lastname: row.lastname, gender: null, dateOfBirth: null,
          emails: row.email === null ? [] : [row.email], phones: [row.phone], companies: [],
        }),
        ...linkEvents(received, careosId, [row.customerId], state),
        synced(received, row.customerId, 'created', careosId),
      ],
    };
  },

  history: {
    key(record) {
      const id = (record.customer_id ?? '').trim();
      // An id PostgreSQL cannot store (storable.ts) cannot be a history key: its row is rejected, unlogged.
      return id === '' || !isStorableText(id) ? null : id;
    },
    skip(received, originalId, entry) {
      return {
        outcome: 'skipped',
        events: [rowSkipped(
          received, originalId, 'already-synced',
          `customer_id ${JSON.stringify(originalId)} was synced before (import ${entry.importId}, row ${entry.row}); a record already in the history log is skipped`,
          entry.careosId,
        )],
      };
    },
    rejected(received, originalId) {
      return [synced(received, originalId, 'rejected', null)];
    },
  },
};
