// Lookups memoised for the duration of one request. While issuing one token oidc-provider asks
// for the same account, role and plan several times (findAccount, the resource server's scopes,
// extra token claims); each is read from the database once per request.
const memos = new WeakMap<object, Map<string, Promise<unknown>>>();

export function perRequest<T>(ctx: object | undefined, key: string, load: () => Promise<T>): Promise<T> {
  if (!ctx) return load();
  let memo = memos.get(ctx);
  if (!memo) memos.set(ctx, (memo = new Map()));
  let value = memo.get(key) as Promise<T> | undefined;
  if (!value) {
    value = load();
    memo.set(key, value);
  }
  return value;
}
