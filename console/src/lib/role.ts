// Role names as people read them.
const ROLE_NAMES: Record<string, string> = { admin: 'Admin', bi: 'BI', auditor: 'Auditor' };

export function roleName(role: string): string {
  return ROLE_NAMES[role] ?? role;
}
