// Whether this tab is signed in, and every way it stops being: the user signs out, the OIDC access token
// expires (a timer at its expiry), or the API answers 401 to the credential (SIGNED_OUT_EVENT).
import { useCallback, useEffect, useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { callbackParams, completeSignInOnce, SignInError, signOut as endSession } from "./oidc";
import { forgetKey, oidcSession, SIGNED_OUT_EVENT, storedKey } from "./session";

export interface Session {
  signedIn: boolean;
  /** The OIDC callback is being handled (show nothing yet). */
  completing: boolean;
  /** Why the sign-in page is shown again (expired, refused), if it is. */
  notice: string | null;
  signedInNow: () => void;
  signOut: () => void;
}

export function useSession(): Session {
  const queryClient = useQueryClient();
  const [callback] = useState(() => callbackParams(window.location.search));
  const [signedIn, setSignedIn] = useState(() => callback === null && storedKey() !== null);
  const [completing, setCompleting] = useState(callback !== null);
  const [notice, setNotice] = useState<string | null>(null);

  const endLocally = useCallback(
    (why: string | null) => {
      forgetKey();
      queryClient.clear();
      setNotice(why);
      setSignedIn(false);
    },
    [queryClient],
  );

  useEffect(() => {
    if (callback === null) return;
    completeSignInOnce(callback).then(
      () => {
        setSignedIn(true);
        setCompleting(false);
      },
      (error: unknown) => {
        setNotice(error instanceof SignInError ? error.message : "The sign-in could not be completed.");
        setCompleting(false);
      },
    );
  }, [callback]);

  useEffect(() => {
    if (!signedIn) return;
    const onSignedOut = () => endLocally("You were signed out: please sign in again.");
    window.addEventListener(SIGNED_OUT_EVENT, onSignedOut);
    const session = oidcSession();
    const timer =
      session === null
        ? undefined
        : window.setTimeout(() => endLocally("Your session expired: please sign in again."),
            Math.max(0, session.expiresAt - Date.now()));
    return () => {
      window.removeEventListener(SIGNED_OUT_EVENT, onSignedOut);
      window.clearTimeout(timer);
    };
  }, [signedIn, endLocally]);

  return {
    signedIn,
    completing,
    notice,
    signedInNow: () => {
      setNotice(null);
      setSignedIn(true);
    },
    signOut: () => {
      queryClient.clear();
      setNotice(null);
      setSignedIn(false);
      endSession();
    },
  };
}
