// A size-capped map of entries that expire: what the gateway remembers per credential (verified
// callers, and refusals) must stay bounded however many distinct credentials a caller invents.
export class BoundedCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(private readonly maxEntries: number) {}

  get(key: string, now: number): V | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.until > now) return hit.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, until: number) {
    if (this.entries.size >= this.maxEntries) {
      // Oldest first (insertion order): drop a tenth rather than one per insert.
      let drop = Math.max(1, Math.floor(this.maxEntries / 10));
      for (const old of this.entries.keys()) {
        this.entries.delete(old);
        if (--drop <= 0) break;
      }
    }
    this.entries.set(key, { value, until });
  }

  delete(key: string) {
    this.entries.delete(key);
  }
}
