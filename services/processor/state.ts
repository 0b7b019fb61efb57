// The decision state a row is decided against: which CareOS profiles exist, which profile owns
// a phone, which profile an original id is actively linked to. Pure and in memory: the processor
// loads the part a batch needs from the read models with one query per kind, and folds in each
// decision of the batch as it is made, so a row sees every row before it.
import { assertNever, type ImporterEvent } from '../events/types.ts';

export interface DecisionState {
  profileExists(careosId: string): boolean;
  /** CareOS ids of the profiles holding this E.164 phone, oldest first. */
  profilesWithPhone(phoneE164: string): readonly string[];
  /** CareOS id the original id is actively linked to, if any. */
  activeLink(source: string, originalId: string): string | undefined;
}

const NONE: readonly string[] = Object.freeze([]);

function linkKey(source: string, originalId: string): string {
  return `${source}\u0000${originalId}`;
}

export class InMemoryState implements DecisionState {
  private readonly profiles = new Set<string>();
  private readonly phoneOwners = new Map<string, string[]>();
  private readonly links = new Map<string, string>();

  addProfile(careosId: string): void {
    this.profiles.add(careosId);
  }

  addPhone(phoneE164: string, careosId: string): void {
    const owners = this.phoneOwners.get(phoneE164);
    if (!owners) this.phoneOwners.set(phoneE164, [careosId]);
    else if (!owners.includes(careosId)) owners.push(careosId);
  }

  setLink(source: string, originalId: string, careosId: string): void {
    this.links.set(linkKey(source, originalId), careosId);
  }

  removeLink(source: string, originalId: string): void {
    this.links.delete(linkKey(source, originalId));
  }

  profileExists(careosId: string): boolean {
    return this.profiles.has(careosId);
  }

  profilesWithPhone(phoneE164: string): readonly string[] {
    return this.phoneOwners.get(phoneE164) ?? NONE;
  }

  activeLink(source: string, originalId: string): string | undefined {
    return this.links.get(linkKey(source, originalId));
  }

  /** Folds a decided event into the state, exactly as the projections will. */
  apply(event: ImporterEvent): void {
    switch (event.type) {
      case 'ProfileCreated':
        this.profiles.add(event.data.careosId);
        for (const phone of event.data.phones) this.addPhone(phone, event.data.careosId);
        return;
      case 'RelationLinked':
        for (const originalId of event.data.originalIds) this.setLink(event.data.source, originalId, event.data.careosId);
        return;
      case 'RelationUnlinked': {
        const key = linkKey(event.data.source, event.data.originalId);
        if (this.links.get(key) === event.data.careosId) this.links.delete(key);
        return;
      }
      case 'ImportStarted':
      case 'RowReceived':
      case 'ImportFileRead':
      case 'RowRejected':
      case 'ImportProgressed':
      case 'ImportCompleted':
        return;
      default:
        assertNever(event);
    }
  }
}
