import { useState, type FormEvent } from "react";
import { storeKey, forgetKey } from "../../auth/session";
import { api } from "../../api/client";

/** Sign in with an API key: checked against the API once, then kept in sessionStorage. */
export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

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

  return (
    <main className="signin">
      <h1>reelstream</h1>
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
