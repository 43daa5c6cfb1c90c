// OIDC sign-in for the console: authorization code + PKCE (S256) against the provider ingest names in
// /console/config.json, found through the issuer's discovery document. `state` ties the callback to the
// request this tab made, `nonce` ties the ID token to it; both, with the PKCE verifier, wait in
// sessionStorage during the round trip and are removed when the callback is handled. The code and state
// leave the address bar before anything else happens; tokens are never put in a URL or logged.
import { forgetKey, oidcSession, storeOidcSession, type OidcSession } from "./session";

export interface OidcConfig {
  issuer: string;
  client_id: string;
  scope: string;
}

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  end_session_endpoint?: string;
}

interface Pending {
  state: string;
  nonce: string;
  verifier: string;
  issuer: string;
  clientId: string;
  tokenEndpoint: string;
  endSessionEndpoint: string | null;
}

const PENDING_KEY = "reelstream.oidc.pending";

export class SignInError extends Error {}

/** The console's own address, where the provider sends the browser back (registered with the client). */
export function redirectUri(location: Location = window.location): string {
  return `${location.origin}/console/`;
}

export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** RFC 7636 S256: BASE64URL(SHA256(ASCII(code_verifier))). */
export async function codeChallenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

async function discover(issuer: string): Promise<Discovery> {
  const response = await fetch(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
  if (!response.ok) throw new SignInError(`The sign-in provider answered ${response.status}.`);
  const discovery = (await response.json()) as Discovery;
  if (discovery.issuer !== issuer) throw new SignInError("The sign-in provider names another issuer.");
  return discovery;
}

/** Fetch the console's sign-in choices from ingest (null: API keys only). */
export async function loadOidcConfig(): Promise<OidcConfig | null> {
  const response = await fetch("/console/config.json");
  if (!response.ok) return null;
  const body = (await response.json()) as { oidc: OidcConfig | null };
  return body.oidc;
}

/** Leave for the provider's sign-in page (the promise never resolves: the page navigates away). */
export async function beginSignIn(config: OidcConfig, location: Location = window.location): Promise<void> {
  const discovery = await discover(config.issuer);
  const pending: Pending = {
    state: randomString(),
    nonce: randomString(),
    verifier: randomString(),
    issuer: config.issuer,
    clientId: config.client_id,
    tokenEndpoint: discovery.token_endpoint,
    endSessionEndpoint: discovery.end_session_endpoint ?? null,
  };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: config.client_id,
    redirect_uri: redirectUri(location),
    scope: config.scope,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await codeChallenge(pending.verifier),
    code_challenge_method: "S256",
  }).toString();
  location.assign(url.toString());
}

/** The callback's parameters, when this page load is one (a `code` or an `error` with a `state`). */
export function callbackParams(search: string): URLSearchParams | null {
  const params = new URLSearchParams(search);
  return params.has("state") && (params.has("code") || params.has("error")) ? params : null;
}

/** A JWT's payload, unverified: only for the nonce, issuer and audience checks of our own ID token (the
 * access token is verified by ingest, the token came straight from the provider over its token endpoint). */
export function jwtPayload(jwt: string): Record<string, unknown> {
  const part = jwt.split(".")[1];
  if (part === undefined) throw new SignInError("The ID token is malformed.");
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
  return JSON.parse(json) as Record<string, unknown>;
}

function takePending(): Pending | null {
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  return raw === null ? null : (JSON.parse(raw) as Pending);
}

/** Handle the provider's redirect: check state, swap the code (with the PKCE verifier) for tokens, check
 * the ID token's nonce, issuer and audience, keep the session. The address bar is cleaned first. */
export async function completeSignIn(params: URLSearchParams, now: () => number = Date.now): Promise<OidcSession> {
  window.history.replaceState(null, "", `${window.location.pathname}${window.location.hash}`);
  const pending = takePending();
  if (pending === null || params.get("state") !== pending.state) {
    throw new SignInError("The sign-in answer does not match a sign-in started here. Please try again.");
  }
  const error = params.get("error");
  if (error !== null) throw new SignInError(`The sign-in provider refused: ${error}.`);
  const issuer = params.get("iss");
  if (issuer !== null && issuer !== pending.issuer) throw new SignInError("The answer came from another issuer.");
  const response = await fetch(pending.tokenEndpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: params.get("code") ?? "",
      redirect_uri: redirectUri(),
      client_id: pending.clientId,
      code_verifier: pending.verifier,
    }),
  });
  if (!response.ok) throw new SignInError(`The sign-in provider refused the code (${response.status}).`);
  const tokens = (await response.json()) as { access_token?: string; id_token?: string; expires_in?: number };
  if (!tokens.access_token || !tokens.id_token) throw new SignInError("The sign-in provider sent no tokens.");
  const claims = jwtPayload(tokens.id_token);
  const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (claims.nonce !== pending.nonce) throw new SignInError("The ID token is not for this sign-in (nonce).");
  if (claims.iss !== pending.issuer || !audience.includes(pending.clientId)) {
    throw new SignInError("The ID token is not for this console.");
  }
  const session: OidcSession = {
    accessToken: tokens.access_token,
    expiresAt: now() + (tokens.expires_in ?? 300) * 1000,
    endSessionEndpoint: pending.endSessionEndpoint,
    clientId: pending.clientId,
  };
  storeOidcSession(session);
  return session;
}

let handling: Promise<OidcSession> | null = null;

/** completeSignIn once per page load (a React effect may run twice; the code can be swapped once only). */
export function completeSignInOnce(params: URLSearchParams): Promise<OidcSession> {
  handling ??= completeSignIn(params);
  return handling;
}

/** Forget the credential; after an OIDC sign-in, end the provider's session too (it comes back here). The
 * request names the client, not the ID token (`id_token_hint`), so that no token ever sits in a URL. */
export function signOut(location: Location = window.location): void {
  const session = oidcSession();
  forgetKey();
  if (session?.endSessionEndpoint) {
    const url = new URL(session.endSessionEndpoint);
    url.search = new URLSearchParams({
      client_id: session.clientId,
      post_logout_redirect_uri: redirectUri(location),
    }).toString();
    location.assign(url.toString());
  }
}
