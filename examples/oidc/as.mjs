// A test-only OAuth 2.1 authorization server for the SDK's authorization
// tests, built on oidc-provider. It listens on 127.0.0.1 only, logs every
// user in without asking and grants whatever is requested: never run it
// anywhere but a test.
//
//   node examples/oidc/as.mjs
//
// It binds an ephemeral port, prints exactly one line on stdout,
//
//   READY http://127.0.0.1:<port>
//
// (the issuer, which is also the base URL of every endpoint) and serves until
// it is killed. Diagnostics go to stderr. State (clients, grants, tokens and
// the signing key) lives in memory and dies with the process.
//
// What it offers:
//   * metadata at /.well-known/oauth-authorization-server (RFC 8414) and
//     /.well-known/openid-configuration, the same document;
//   * open dynamic client registration (RFC 7591) at /reg;
//   * the authorization code grant with PKCE required, S256 only, and the
//     issuer in the authorization response (RFC 9207);
//   * resource indicators (RFC 8707): any http(s) URL on 127.0.0.1,
//     localhost or [::1] is a resource server. Its access tokens are RS256 JWTs
//     (typ at+jwt, RFC 9068) whose `aud` is the resource URL and whose `scope`
//     is the requested scopes that are among mcp:read, mcp:write and mcp:admin;
//   * except that a resource whose path ends in /opaque (for example
//     http://127.0.0.1:1234/opaque) gets opaque access tokens, which the
//     introspection endpoint (RFC 7662) answers for; oidc-provider never
//     introspects JWTs;
//   * introspection and revocation (RFC 7009) for confidential clients
//     (client_secret_basic as registered, or the static resource-server client
//     below);
//   * refresh tokens for every client registered with the refresh_token
//     grant, rotated on every use; reusing a rotated one revokes the grant;
//   * the client_credentials grant (resource-bound JWTs, sub = client_id);
//   * token exchange (RFC 8693) for confidential clients allowed the grant,
//     such as the static client mcp-gateway below: a user's JWT access
//     token (typ at+jwt) this server issued and that is still valid is
//     traded for one of the same user (`sub`) for another loopback resource,
//     with no more scopes than it had (none left is refused) and no longer
//     life, naming the client in `act`; each request is noted on stderr;
//   * a JWKS with one RSA key generated at start-up.
//
// Headless interaction: the browser steps (login, consent) answer themselves
// with redirects, so a test follows Location headers, keeping cookies, until
// it reaches the client's redirect_uri. The user is `login_hint` when given,
// else "test-user"; login_hint=deny makes the server answer access_denied.
//
// Knobs for negative tests, all optional environment variables:
//   AS_ACCESS_TOKEN_TTL=<s>  access token lifetime in seconds (default 300)
//   AS_METADATA=oauth|oidc   serve only the RFC 8414 or only the OpenID
//                            discovery document (default: both)
//   AS_DROP_PKCE_METADATA=1  leave code_challenge_methods_supported out
//   AS_ISSUER_OVERRIDE=<url> publish another `issuer` in the metadata (mix-up)
//
// oidc-provider is resolved from $MCP_TEST_NODE_MODULES when that is set (the
// test suite installs it under .tools/npm), else the usual way from this
// directory (after `npm install` here).

import { createPublicKey, generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const env = process.env;
const HOST = '127.0.0.1';
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
// The scopes every resource server accepts; others are dropped from tokens.
const RESOURCE_SCOPES = 'mcp:read mcp:write mcp:admin';
const ACCESS_TTL = Number(env.AS_ACCESS_TOKEN_TTL ?? 300);
const METADATA = env.AS_METADATA ?? 'both';
// The resource server's own credentials for introspection, for tests that do
// not register one.
const RS_CLIENT = { client_id: 'mcp-resource-server', client_secret: 'test-only-rs-secret' };
// A gateway that calls resource servers on behalf of its callers.
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const GATEWAY_CLIENT = {
  client_id: 'mcp-gateway',
  client_secret: 'test-only-gateway-secret',
  grant_types: ['client_credentials', TOKEN_EXCHANGE],
  response_types: [],
  redirect_uris: [],
};

async function load(name) {
  if (!env.MCP_TEST_NODE_MODULES) return import(name);
  const require = createRequire(join(resolve(env.MCP_TEST_NODE_MODULES), 'index.js'));
  return import(pathToFileURL(require.resolve(name)).href);
}
const { default: Provider, errors } = await load('oidc-provider');

// Listen first: the issuer needs the port.
const server = createServer();
await new Promise((done, fail) => {
  server.once('error', fail);
  server.listen(0, HOST, done);
});
const issuer = `http://${HOST}:${server.address().port}`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' };

// Introspection and revocation: confidential clients may ask about any token,
// public clients only about their own.
const ownTokensUnlessConfidential = (_ctx, client, token) =>
  client.clientAuthMethod !== 'none' || token.clientId === client.clientId;

const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
  cookies: { keys: ['test-only-cookie-key'] },
  responseTypes: ['code'],
  // oidc-provider 9 knows only S256, so plain is refused as unsupported.
  pkce: { required: () => true },
  scopes: ['openid', 'offline_access'],
  clients: [{ ...RS_CLIENT, grant_types: [], response_types: [], redirect_uris: [] }, GATEWAY_CLIENT],
  async findAccount(_ctx, sub) {
    return { accountId: sub, async claims() { return { sub }; } };
  },
  // A refresh token for every client allowed the grant, without asking for
  // offline_access (which MCP clients do not send).
  async issueRefreshToken(_ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  rotateRefreshToken: () => true,
  ttl: {
    AccessToken: ACCESS_TTL,
    ClientCredentials: ACCESS_TTL,
    AuthorizationCode: 60,
    RefreshToken: 86400,
    Grant: 86400,
    Interaction: 600,
    Session: 86400,
  },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true, initialAccessToken: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true, allowedPolicy: ownTokensUnlessConfidential },
    revocation: {
      enabled: true,
      allowedPolicy: async (ctx, client, token) => ownTokensUnlessConfidential(ctx, client, token),
    },
    resourceIndicators: {
      enabled: true,
      // The resource given at /auth is bound to the grant, so a token request
      // without `resource` still gets an audience-restricted token.
      defaultResource: async (_ctx, _client, oneOf) => oneOf,
      useGrantedResource: async () => true,
      async getResourceServerInfo(_ctx, indicator) {
        const url = new URL(indicator);
        if (!['http:', 'https:'].includes(url.protocol) || !LOOPBACK.has(url.hostname)) {
          throw new errors.InvalidTarget('only loopback resource servers are known here');
        }
        return {
          scope: RESOURCE_SCOPES,
          audience: indicator,
          accessTokenTTL: ACCESS_TTL,
          accessTokenFormat: url.pathname.endsWith('/opaque') ? 'opaque' : 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});

// The discovery document: advertise the resource scopes, and apply the
// negative-test knobs.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/.well-known/openid-configuration' && ctx.status === 200) {
    ctx.body.scopes_supported = [...ctx.body.scopes_supported, ...RESOURCE_SCOPES.split(' ')];
    if (env.AS_DROP_PKCE_METADATA === '1') delete ctx.body.code_challenge_methods_supported;
    if (env.AS_ISSUER_OVERRIDE) ctx.body.issuer = env.AS_ISSUER_OVERRIDE;
  }
});

// Token exchange: the subject token must be an access token signed here and
// unexpired; the new one is for a loopback resource, for the same user.
const publicKey = createPublicKey(privateKey);
const b64url = (value) => Buffer.from(value).toString('base64url');
function verifiedClaims(token) {
  const [head, body, signature, extra] = String(token ?? '').split('.');
  if (!head || !body || !signature || extra !== undefined) return undefined;
  const signed = verify('RSA-SHA256', Buffer.from(`${head}.${body}`), publicKey, Buffer.from(signature, 'base64url'));
  if (!signed) return undefined;
  const header = JSON.parse(Buffer.from(head, 'base64url').toString());
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
  // An access token (RFC 9068) of a user for some resource: not an ID
  // token, not a client's own client-credentials token.
  if (header.typ !== 'at+jwt' || claims.iss !== issuer || !(claims.exp > Date.now() / 1000)) return undefined;
  if (!claims.sub || claims.sub === claims.client_id || typeof claims.aud !== 'string') return undefined;
  return claims;
}
provider.registerGrantType(
  TOKEN_EXCHANGE,
  async (ctx) => {
    const { client, params } = ctx.oidc;
    // Tests check on stderr which server was asked.
    console.error(`token exchange asked by ${client.clientId}`);
    if (client.clientAuthMethod === 'none') {
      throw new errors.InvalidClient('token exchange needs a confidential client');
    }
    if (params.subject_token_type !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest('subject_token_type must be an access token');
    }
    if (params.requested_token_type && params.requested_token_type !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest('only access tokens are issued');
    }
    const subject = verifiedClaims(params.subject_token);
    if (!subject) throw new errors.InvalidGrant('the subject token is not a valid access token from here');
    let resource;
    try {
      resource = new URL(params.resource);
    } catch {
      throw new errors.InvalidTarget('a resource is required');
    }
    if (!['http:', 'https:'].includes(resource.protocol) || !LOOPBACK.has(resource.hostname)) {
      throw new errors.InvalidTarget('only loopback resource servers are known here');
    }
    if (params.resource === subject.aud) {
      throw new errors.InvalidTarget('the subject token is already for that resource');
    }
    const had = new Set(String(subject.scope ?? '').split(' ').filter(Boolean));
    const known = new Set(RESOURCE_SCOPES.split(' '));
    const asked = params.scope ? params.scope.split(' ') : [...had];
    const scope = asked.filter((s) => had.has(s) && known.has(s)).join(' ');
    if (!scope) throw new errors.InvalidScope('no scope of the subject token is left');
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: issuer,
      sub: subject.sub,
      aud: params.resource,
      client_id: client.clientId,
      act: { sub: client.clientId },
      iat: now,
      // Never outlives the token it was traded for.
      exp: Math.min(now + ACCESS_TTL, subject.exp),
      jti: randomUUID(),
      scope,
    };
    const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid: signingKey.kid }));
    const body = b64url(JSON.stringify(claims));
    const signature = sign('RSA-SHA256', Buffer.from(`${head}.${body}`), privateKey).toString('base64url');
    ctx.body = {
      access_token: `${head}.${body}.${signature}`,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: claims.exp - now,
      scope,
    };
  },
  ['subject_token', 'subject_token_type', 'requested_token_type', 'resource', 'scope'],
);

// Login and consent without a user interface: each interaction is finished at
// once, and oidc-provider redirects back to the authorization endpoint.
async function interact(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  let result;
  if (params.login_hint === 'deny') {
    result = { error: 'access_denied', error_description: 'the test user said no' };
  } else if (prompt.name === 'login') {
    result = { login: { accountId: params.login_hint ?? 'test-user' } };
  } else if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  } else {
    throw new Error(`unexpected prompt ${prompt.name}`);
  }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
server.on('request', (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  const notFound = () => {
    res.statusCode = 404;
    res.end();
  };
  if (/^\/interaction\/[^/]+$/.test(path)) {
    interact(req, res).catch((err) => {
      console.error(err);
      res.statusCode = 500;
      res.end(String(err));
    });
  } else if (path === '/.well-known/oauth-authorization-server') {
    if (METADATA === 'oidc') return notFound();
    req.url = '/.well-known/openid-configuration';
    callback(req, res);
  } else if (path === '/.well-known/openid-configuration' && METADATA === 'oauth') {
    notFound();
  } else {
    callback(req, res);
  }
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
console.log(`READY ${issuer}`);
