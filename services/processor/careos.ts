// Profiles that already exist in CareOS, loaded so that BI's careos_cus_id mapping and the
// phone duplicate check see them. Same field rules as Nana; an existing careos_cus_id is refused.
import {
  checkDateOfBirth, checkEmails, checkGender, checkPhones, checkRequiredText,
} from './fields.ts';
import { fileSource } from '../../schemas/api.ts';
import { ReasonCollector, profileCreated, rejected, type SourceRules } from './rules.ts';

export interface CareosRow {
  careosId: string;
  firstname: string;
  lastname: string;
  gender: 'F' | 'M' | null;
  dateOfBirth: string | null;
  emails: string[];
  phones: string[];
}

export const careos: SourceRules<CareosRow> = {
  name: 'careos',
  label: 'CareOS',
  columns: fileSource('careos')!.columns,

  check(record, today) {
    const c = new ReasonCollector();
    const row: CareosRow = {
      careosId: c.take(checkRequiredText('careos_cus_id', record.careos_cus_id ?? '')),
      firstname: c.take(checkRequiredText('firstname', record.firstname ?? '')),
      lastname: c.take(checkRequiredText('lastname', record.lastname ?? '')),
      gender: c.take(checkGender(record.gender ?? '')),
      dateOfBirth: c.take(checkDateOfBirth(record.date_of_birth ?? '', today)),
      emails: c.take(checkEmails(record.email ?? '')),
      phones: c.take(checkPhones(record.phone ?? '', { required: true })),
    };
    return c.reasons.length ? { ok: false, reasons: c.reasons } : { ok: true, value: row };
  },

  keys(row) {
    return { careosIds: [row.careosId], phones: [], originalIds: [] };
  },

  decide(row, received, state) {
    if (state.profileExists(row.careosId)) {
      return rejected(received, [{
        field: 'careos_cus_id',
        code: 'duplicate-careos-id',
        message: `careos_cus_id "${row.careosId}" already exists in CareOS; a profile is loaded only once`,
      }]);
    }
    const { careosId, firstname, lastname, gender, dateOfBirth, emails, phones } = row;
    return {
      outcome: 'imported',
      events: [profileCreated(received, careosId, { firstname, lastname, gender, dateOfBirth, emails, phones, companies: [] })],
    };
  },
};
