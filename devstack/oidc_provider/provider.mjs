// The development and test OpenID Connect provider: panva's certified `oidc-provider`, configured for the
// console (a public client: authorization code + PKCE S256) and for ingest (JWT access tokens for one
// audience, carrying the tenant and roles claims ingest reads). Started by devstack/oidc.py:
//
//   node provider.mjs <config.json>
//
// config.json: {"port", "issuer", "audience", "resource", "access_token_ttl", "tenant_claim", "roles_claim",
//               "clients": [{"client_id", "redirect_uris", "post_logout_redirect_uris"}],
//               "users": {"<login>": {"tenant", "roles": [...], "name"}}}
//
// Sign-in uses the provider's own development login and consent pages (devInteractions): any password is
// taken, but only the configured logins exist: another login ends the authorization with `access_denied`
// (back at the client). Not for production.
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const API_SCOPE = "api";

const { privateKey } = await generateKeyPair("RS256", { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: randomBytes(8).toString("hex"), alg: "RS256", use: "sig" };

function account(id) {
  const user = config.users[id];
  if (!user) return undefined;
  return {
    accountId: id,
    async claims() {
      return { sub: id, name: user.name ?? id, [config.tenant_claim]: user.tenant, [config.roles_claim]: user.roles };
    },
  };
}

const provider = new Provider(config.issuer, {
  clients: config.clients.map((c) => ({
    client_id: c.client_id,
    application_type: "web",
    token_endpoint_auth_method: "none",
    grant_types: ["authorization_code"],
    response_types: ["code"],
    redirect_uris: c.redirect_uris,
    post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
  })),
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString("hex")] },
  pkce: { required: () => true },
  scopes: ["openid", "profile", API_SCOPE],
  claims: { openid: ["sub"], profile: ["name"] },
  findAccount: (_ctx, sub) => account(sub),
  ttl: { AccessToken: config.access_token_ttl, IdToken: config.access_token_ttl },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => config.resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: API_SCOPE,
        audience: config.audience,
        accessTokenTTL: config.access_token_ttl,
        accessTokenFormat: "jwt",
        jwt: { sign: { alg: "RS256" } },
      }),
    },
  },
  // the tenant and roles ingest authorizes by, in the JWT access token
  async extraTokenClaims(_ctx, token) {
    const user = token.kind === "AccessToken" ? config.users[token.accountId] : undefined;
    return user ? { [config.tenant_claim]: user.tenant, [config.roles_claim]: user.roles } : undefined;
  },
  // the console (another origin) calls the token endpoint from the browser
  clientBasedCORS: (_ctx, origin, client) => client.redirectUris.some((uri) => new URL(uri).origin === origin),
  renderError(ctx, out) {
    ctx.type = "html";
    ctx.body = `<!doctype html><title>Error</title><h1>Sign-in failed</h1><p>${String(out.error).replace(/[^a-z_]/gi, "")}</p>`;
  },
});

// Refuse a login the configuration does not name before devInteractions takes it (it would fail later, as
// a server_error, when the session's account cannot be found). The body parsed here is handed on.
provider.use(async (ctx, next) => {
  if (ctx.method !== "POST" || !ctx.path.startsWith("/interaction/")) return next();
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  const body = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString("utf8")));
  ctx.req.body = body;
  if (body.prompt === "login" && !Object.hasOwn(config.users, body.login ?? "")) {
    await provider.interactionFinished(
      ctx.req,
      ctx.res,
      { error: "access_denied", error_description: "no such user" },
      { mergeWithLastSubmission: false },
    );
    ctx.respond = false;
    return undefined;
  }
  return next();
});

const server = provider.listen(config.port, "127.0.0.1", () => {
  process.stdout.write(`oidc-provider listening on ${config.issuer}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
