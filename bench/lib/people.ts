// Made-up natural people for the benchmarks: valid, distinct resident ID numbers (GB 11643-1999:
// 6-digit region, birth date, 3-digit sequence, ISO 7064 MOD 11-2 check character).

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/** The i-th person's resident ID number: born 1950-01-01 plus i days, so every i is distinct. */
export function residentIdNumber(i: number): string {
  const birth = new Date(Date.UTC(1950, 0, 1) + i * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
  const digits = `110101${birth}${String(i % 1000).padStart(3, '0')}`;
  return digits + '10X98765432'[WEIGHTS.reduce((s, w, k) => s + w * Number(digits[k]), 0) % 11];
}

/** The i-th person as the verification services take them. */
export function personNumber(i: number) {
  return { documentType: 'cn_resident_id', documentNumber: residentIdNumber(i), name: `测试${i}` };
}
