// Small deterministic Nana files for tests: valid rows, some invalid, and phones repeated in
// another format (some right across batch boundaries).
import fs from 'node:fs';

const HEADER = 'careos_cus_id,nana_cus_id,gender,firstname,lastname,email,date_of_birth,phone,company_name,force_create';

function mobile(n: number): string {
  return `08${String(10_000_000 + n).slice(-8)}`;
}

export function writeNanaFile(filePath: string, rows: number, options: { duplicateEvery?: number } = {}): void {
  const duplicateEvery = options.duplicateEvery ?? 97;
  const lines = [HEADER];
  for (let row = 1; row <= rows; row++) {
    let phone = mobile(row);
    // A later row repeats an earlier row's phone in another format.
    if (row > 3 && row % duplicateEvery === 0) phone = `+66${mobile(row - 2).slice(1)}`;
    const invalid = row % 53 === 0;
    const email = invalid ? `user${row}@@example.com` : `user${row}@example.com`;
    const companies = row % 7 === 0 ? '"""Rabbit Care Co., Ltd."", ""ADB Co., Ltd."""' : '';
    const force = row % 101 === 0 ? 'Y' : '';
    lines.push(`,"n${row},m${row}",${row % 2 ? 'F' : 'M'},First${row},Last${row},${email},1990-01-${String((row % 28) + 1).padStart(2, '0')},${phone},${companies},${force}`);
  }
  fs.writeFileSync(filePath, lines.join('\n') + '\n');
}
