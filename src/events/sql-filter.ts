// The WHERE clause and parameters of a listing whose filters are all optional: each filter
// given adds `clause` with its `?` replaced by the next placeholder.
export class SqlFilter {
  readonly values: unknown[] = [];
  private readonly clauses: string[] = [];

  add(clause: string, value: unknown): void {
    this.values.push(value);
    this.clauses.push(clause.replace('?', `$${this.values.length}`));
  }

  /** `WHERE …`, or nothing without filters. */
  get where(): string {
    return this.clauses.length ? `WHERE ${this.clauses.join(' AND ')}` : '';
  }

  /** The LIMIT's placeholder: 1 to 1000 rows, 100 by default. */
  limit(limit: number | undefined): string {
    this.values.push(Math.min(Math.max(limit ?? 100, 1), 1000));
    return `LIMIT $${this.values.length}`;
  }
}
