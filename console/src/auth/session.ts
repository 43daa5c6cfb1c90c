// The credential lives in sessionStorage only: never in a URL, never logged; closing the tab signs out.
// Either an API key, or the access token of an OIDC sign-in with its expiry (and where to end that session).
const STORAGE_KEY = "reelstream.apiKey";
const OIDC_KEY = "reelstream.oidc.session";
export const SIGNED_OUT_EVENT = "reelstream:signed-out";

export interface OidcSession {
  accessToken: string;
  expiresAt: number; // epoch ms
  endSessionEndpoint: string | null;
  clientId: string;
}

export function oidcSession(): OidcSession | null {
  const raw = sessionStorage.getItem(OIDC_KEY);
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as OidcSession;
  } catch {
    sessionStorage.removeItem(OIDC_KEY);
    return null;
  }
}

/** The bearer credential to send: the API key, or the OIDC access token while it has not expired. */
export function storedKey(now: number = Date.now()): string | null {
  const key = sessionStorage.getItem(STORAGE_KEY);
  if (key !== null) return key;
  const session = oidcSession();
  return session !== null && session.expiresAt > now ? session.accessToken : null;
}

export function storeKey(key: string): void {
  sessionStorage.setItem(STORAGE_KEY, key);
}

export function storeOidcSession(session: OidcSession): void {
  sessionStorage.removeItem(STORAGE_KEY);
  sessionStorage.setItem(OIDC_KEY, JSON.stringify(session));
}

export function forgetKey(): void {
  sessionStorage.removeItem(STORAGE_KEY);
  sessionStorage.removeItem(OIDC_KEY);
}

/** The credential stopped working (expired, revoked): forget it and tell the app to show the sign-in. */
export function signedOutByServer(): void {
  forgetKey();
  window.dispatchEvent(new Event(SIGNED_OUT_EVENT));
}
