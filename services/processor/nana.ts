// Nana's rules: the spec's fields, validation table and sync process (rules 1–3 of issue 2).
import { newCareosId } from '../events/ids.ts';
import {
  checkDateOfBirth, checkEmails, checkForceCreate, checkGender, checkIdList, checkPhones,
  checkRequiredText, parseCompanyList,
} from './fields.ts';
import { fileSource } from '../../schemas/api.ts';
import { ReasonCollector, linkEvents, profileCreated, rejected, type SourceRules } from './rules.ts';

export interface NanaRow {
  careosId: string | null;
  nanaIds: string[];
  gender: 'F' | 'M' | null;
  firstname: string;
  lastname: string;
  emails: string[];
  dateOfBirth: string | null;
  phones: string[];
  companies: string[];
  forceCreate: boolean;
}

export const nana: SourceRules<NanaRow> = {
  name: 'nana',
  label: 'Nana',
  columns: fileSource('nana')!.columns,

  check(record, today) {
    const c = new ReasonCollector();
    const careosId = (record.careos_cus_id ?? '').trim();
    const row: NanaRow = {
      careosId: careosId === '' ? null : careosId,
      nanaIds: c.take(checkIdList('nana_cus_id', record.nana_cus_id ?? '', { required: true })),
      gender: c.take(checkGender(record.gender ?? '')),
      firstname: c.take(checkRequiredText('firstname', record.firstname ?? '')),
      lastname: c.take(checkRequiredText('lastname', record.lastname ?? '')),
      emails: c.take(checkEmails(record.email ?? '')),
      dateOfBirth: c.take(checkDateOfBirth(record.date_of_birth ?? '', today)),
      phones: c.take(checkPhones(record.phone ?? '', { required: true })),
      companies: c.take(parseCompanyList(record.company_name ?? '')),
      forceCreate: c.take(checkForceCreate(record.force_create ?? '')),
    };
    return c.reasons.length ? { ok: false, reasons: c.reasons } : { ok: true, value: row };
  },

  keys(row) {
    return {
      careosIds: row.careosId === null ? [] : [row.careosId],
      // The duplicate check runs only for a new profile that is not forced.
      phones: row.careosId === null && !row.forceCreate ? row.phones : [],
      originalIds: row.nanaIds,
    };
  },

  decide(row, received, state) {
    // Rule 2: BI mapped the row to an existing profile; only the relation is created.
    if (row.careosId !== null) {
      if (!state.profileExists(row.careosId)) {
        return rejected(received, [{
          field: 'careos_cus_id',
          code: 'unknown-profile',
          message: `careos_cus_id "${row.careosId}" is not an existing CareOS profile, so the relation cannot be created (leave it empty to create a new profile)`,
        }]);
      }
      return { outcome: 'imported', events: linkEvents(received, row.careosId, row.nanaIds, state) };
    }
    // Rule 3: a new profile, unless one of its phones already belongs to a profile.
    if (!row.forceCreate) {
      for (const phone of row.phones) {
        const owners = state.profilesWithPhone(phone);
        if (owners.length > 0) {
          return rejected(received, [{
            field: 'phone',
            code: 'duplicate-phone',
            message: `phone "${(received.data.record.phone ?? '').trim()}" (${phone}) already belongs to CareOS profile ${owners[0]} (set force_create to Y to create a new profile anyway, or put that id in careos_cus_id to link)`,
          }]);
        }
      }
    }
    const careosId = newCareosId(received.data.importId, received.data.row);
    const { firstname, lastname, gender, dateOfBirth, emails, phones, companies } = row;
    return {
      outcome: 'imported',
      events: [
        profileCreated(received, careosId, { firstname, lastname, gender, dateOfBirth, emails, phones, companies }),
        ...linkEvents(received, careosId, row.nanaIds, state),
      ],
    };
  },
};
