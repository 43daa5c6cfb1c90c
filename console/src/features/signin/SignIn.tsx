import { useState, type FormEvent } from "react";
import { useQuery } from "@tanstack/react-query";
import { storeKey, forgetKey } from "../../auth/session";
import { beginSignIn, loadOidcConfig, SignInError } from "../../auth/oidc";
import { api } from "../../api/client";

/** Sign in with the configured OIDC provider (when ingest names one), or with an API key: checked against
 * the API once, then kept in sessionStorage. `notice`: why the user is here again (expired, failed). */
export function SignIn({ onSignedIn, notice }: { onSignedIn: () => void; notice?: string | null }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const config = useQuery({ queryKey: ["console-config"], queryFn: loadOidcConfig, retry: false, staleTime: Infinity });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    storeKey(key.trim());
    try {
      const { response } = await api.GET("/v1/jobs", { params: { query: { limit: 1 } } });
      if (response.ok) {
        onSignedIn();
        return;
      }
      forgetKey();
      setError(response.status === 401 ? "This key is not valid." : `The API answered ${response.status}.`);
    } catch {
      forgetKey();
      setError("The API cannot be reached.");
    } finally {
      setBusy(false);
    }
  };

  const singleSignOn = async () => {
    if (!config.data) return;
    setBusy(true);
    setError(null);
    try {
      await beginSignIn(config.data);
    } catch (e) {
      setError(e instanceof SignInError ? e.message : "The sign-in provider cannot be reached.");
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <h1>reelstream</h1>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {config.data && (
        <section aria-label="Single sign-on" className="sso">
          <button type="button" onClick={() => void singleSignOn()} disabled={busy}>
            Sign in with single sign-on
          </button>
          <p className="hint">Through {new URL(config.data.issuer).host}; or with an API key below.</p>
        </section>
      )}
      <form onSubmit={submit} aria-describedby={error ? "signin-error" : undefined}>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          required
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-invalid={error ? true : undefined}
        />
        {error && (
          <p id="signin-error" className="field-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || key.trim() === ""}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        <p className="hint">The key stays in this tab (sessionStorage) and is sent only to this service.</p>
      </form>
    </main>
  );
}
