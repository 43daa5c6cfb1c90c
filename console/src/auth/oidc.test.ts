import { afterEach, describe, expect, it, vi } from "vitest";
import { callbackParams, codeChallenge, completeSignIn, jwtPayload, redirectUri, SignInError } from "./oidc";
import { oidcSession, storedKey } from "./session";

function jwt(claims: Record<string, unknown>): string {
  const part = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${part({ alg: "RS256" })}.${part(claims)}.sig`;
}

const PENDING = {
  state: "s1",
  nonce: "n1",
  verifier: "v1",
  issuer: "http://idp.test",
  clientId: "console",
  tokenEndpoint: "http://idp.test/token",
  endSessionEndpoint: "http://idp.test/session/end",
};

afterEach(() => {
  sessionStorage.clear();
  vi.unstubAllGlobals();
});

describe("PKCE and the callback", () => {
  it("derives the S256 challenge of RFC 7636's example", async () => {
    expect(await codeChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });

  it("recognizes a callback by its state and code or error only", () => {
    expect(callbackParams("?code=c&state=s")?.get("code")).toBe("c");
    expect(callbackParams("?error=access_denied&state=s")?.get("error")).toBe("access_denied");
    expect(callbackParams("?code=c")).toBeNull();
    expect(callbackParams("")).toBeNull();
  });

  it("redirects back to the console's own page", () => {
    expect(redirectUri()).toBe(`${window.location.origin}/console/`);
  });

  it("refuses an answer whose state is not the one this tab sent, and cleans the address bar", async () => {
    sessionStorage.setItem("reelstream.oidc.pending", JSON.stringify(PENDING));
    window.history.replaceState(null, "", "/console/?code=c&state=forged");
    const fetch = vi.fn();
    vi.stubGlobal("fetch", fetch);
    await expect(completeSignIn(new URLSearchParams("code=c&state=forged"))).rejects.toThrow(SignInError);
    expect(window.location.search).toBe("");
    expect(fetch).not.toHaveBeenCalled();
    expect(sessionStorage.getItem("reelstream.oidc.pending")).toBeNull();
  });

  it("swaps the code with the verifier and keeps the tokens only when the nonce matches", async () => {
    const answer = (nonce: string) =>
      new Response(
        JSON.stringify({
          access_token: "at",
          id_token: jwt({ iss: PENDING.issuer, aud: "console", nonce }),
          expires_in: 60,
        }),
      );
    sessionStorage.setItem("reelstream.oidc.pending", JSON.stringify(PENDING));
    const fetch = vi.fn().mockResolvedValue(answer("other"));
    vi.stubGlobal("fetch", fetch);
    await expect(completeSignIn(new URLSearchParams("code=c&state=s1"))).rejects.toThrow(/nonce/);
    expect(storedKey()).toBeNull();

    sessionStorage.setItem("reelstream.oidc.pending", JSON.stringify(PENDING));
    vi.stubGlobal("fetch", vi.fn().mockResolvedValue(answer("n1")));
    const session = await completeSignIn(new URLSearchParams("code=c&state=s1"), () => 1_000);
    expect(session.expiresAt).toBe(61_000);
    const body = (vi.mocked(fetch).mock.calls[0]?.[1]?.body as URLSearchParams).toString();
    expect(body).toContain("code_verifier=v1");
    expect(body).toContain("grant_type=authorization_code");
    expect(oidcSession()?.accessToken).toBe("at");
    expect(storedKey(1_000)).toBe("at");
    expect(storedKey(61_001)).toBeNull(); // expired: no credential
  });

  it("reads a JWT's payload", () => {
    expect(jwtPayload(jwt({ nonce: "x" })).nonce).toBe("x");
  });
});
