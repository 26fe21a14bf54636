// What a project remembers of back-channel logouts (backchannel.ts). The sign-in keeps sessions in
// encrypted cookies, which the project cannot reach to delete: instead it remembers which sessions
// the hub ended and SignIn.current() treats them as signed out. In memory by default; a project
// with several processes implements LogoutStore on Redis or its database (every method is a
// keyed write or read with an expiry: SET key 1 EXAT until NX, EXISTS).

/** The session as the sign-in holds it. */
export interface LocalSession {
  sub: string;
  /** The hub's session id for this project (the ID token's `sid`). */
  sid?: string;
  /** Epoch seconds of the sign-in. */
  signedInAt: number;
}

export interface LogoutStore {
  /** The session `sid` ended; remember it until `until` (epoch seconds). */
  endSession(sid: string, until: number): Promise<void>;
  /** Every session of `sub` that began at or before `before` ended; remember it until `until`. */
  endSubject(sub: string, before: number, until: number): Promise<void>;
  /** Whether the hub ended this session. */
  isEnded(session: LocalSession): Promise<boolean>;
  /** Records a logout token's jti until `until`: false when it was recorded already (a replay). */
  firstUse(jti: string, until: number): Promise<boolean>;
}

/** Kept at most this many entries of each kind: the oldest go first (a flood cannot exhaust memory). */
const MAX_ENTRIES = 100_000;

/** One process's memory: enough for a single-process project; lost on restart. */
export class MemoryLogoutStore implements LogoutStore {
  private readonly sessions = new Map<string, number>();
  private readonly subjects = new Map<string, { before: number; until: number }>();
  private readonly jtis = new Map<string, number>();

  async endSession(sid: string, until: number) {
    remember(this.sessions, sid, until);
  }

  async endSubject(sub: string, before: number, until: number) {
    const known = live(this.subjects.get(sub));
    remember(this.subjects, sub, { before: Math.max(before, known?.before ?? 0), until: Math.max(until, known?.until ?? 0) });
  }

  async isEnded({ sub, sid, signedInAt }: LocalSession) {
    if (sid !== undefined && (this.sessions.get(sid) ?? 0) > now()) return true;
    const subject = live(this.subjects.get(sub));
    return subject !== undefined && signedInAt <= subject.before;
  }

  async firstUse(jti: string, until: number) {
    if ((this.jtis.get(jti) ?? 0) > now()) return false;
    remember(this.jtis, jti, until);
    return true;
  }
}

const now = () => Math.floor(Date.now() / 1000);
const live = <T extends { until: number }>(entry: T | undefined) => (entry && entry.until > now() ? entry : undefined);

function remember<V>(map: Map<string, V>, key: string, value: V) {
  map.delete(key);
  map.set(key, value);
  // Insertion order is age order: drop the oldest beyond the bound.
  while (map.size > MAX_ENTRIES) map.delete(map.keys().next().value!);
}
