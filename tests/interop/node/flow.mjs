// An independent relying party: openid-client v6 (with jose) runs the whole OpenID Connect
// flow against a running eid-gateway, playing the browser itself with plain form posts.
//
// Input (environment): ISSUER, CLIENT_ID, REDIRECT_URI, PERSONAL_ID, PASSWORD, PHONE, and
// either CLIENT_SECRET (client_secret_basic) or CLIENT_KEY_PEM (private_key_jwt, Ed25519) — or
// REGISTER=1: the client registers itself first (RFC 7591, openid-client's
// dynamicClientRegistration) and needs no CLIENT_ID. DPOP=ES256 or DPOP=Ed25519 binds the tokens.
// Output: one JSON document on stdout with what the relying party saw; exit code 1 on any error.
import * as client from 'openid-client'
import { importPKCS8 } from 'jose'
import { readFileSync } from 'node:fs'

const env = (name) => {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is required`)
  return v
}
const issuer = new URL(env('ISSUER'))
const redirectUri = env('REDIRECT_URI')

async function configuration() {
  if (process.env.REGISTER) {
    // ClientSecretBasic() without an argument takes the secret the registration answered with.
    const config = await client.dynamicClientRegistration(issuer, {
      client_name: 'openid-client, registered dynamically',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'EdDSA',
      scope: 'openid profile birthdate',
    }, client.ClientSecretBasic(), { execute: [client.allowInsecureRequests] })
    client.enableNonRepudiationChecks(config)
    return config
  }
  const clientId = env('CLIENT_ID')
  const metadata = { client_id: clientId, id_token_signed_response_alg: 'EdDSA' }
  let auth
  if (process.env.CLIENT_KEY_PEM) {
    const key = await importPKCS8(readFileSync(process.env.CLIENT_KEY_PEM, 'utf8'), 'EdDSA')
    auth = client.PrivateKeyJwt(key)
  } else {
    auth = client.ClientSecretBasic(env('CLIENT_SECRET'))
  }
  const config = await client.discovery(issuer, clientId, metadata, auth, {
    execute: [client.allowInsecureRequests],
  })
  // Without this, openid-client does not verify ID token signatures.
  client.enableNonRepudiationChecks(config)
  return config
}

// The browser: cookies by name, redirects followed by hand.
const jar = new Map()
async function browse(url, form) {
  const res = await fetch(url, {
    method: form ? 'POST' : 'GET',
    redirect: 'manual',
    headers: {
      cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
      ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    body: form ? new URLSearchParams(form).toString() : undefined,
  })
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(';')
    const i = pair.indexOf('=')
    jar.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim())
  }
  return res
}

async function otp() {
  const res = await fetch(new URL(`/dev/sms?phone=${env('PHONE')}`, issuer))
  const [latest] = await res.json()
  return latest.text.match(/\b(\d{6})\b/)[1]
}

async function signIn(authorizationUrl) {
  let res = await browse(authorizationUrl)
  let pages = 0
  while (res.status === 303) {
    const next = new URL(res.headers.get('location'), issuer)
    if (next.origin !== issuer.origin || !next.pathname.startsWith('/oauth2/interaction/')) return next
    const html = await (await browse(next)).text()
    const csrf = html.match(/name="csrf_token" value="([^"]+)"/)[1]
    pages++
    if (html.includes('name="password"')) {
      res = await browse(new URL(next.pathname + '/login', issuer), {
        csrf_token: csrf, personal_id: env('PERSONAL_ID'), password: env('PASSWORD'),
      })
    } else if (html.includes('name="otp"')) {
      res = await browse(new URL(next.pathname + '/otp', issuer), { csrf_token: csrf, otp: await otp() })
    } else {
      res = await browse(new URL(next.pathname + '/consent', issuer), { csrf_token: csrf, decision: 'allow' })
    }
  }
  throw new Error(`sign-in stopped with HTTP ${res.status} after ${pages} pages`)
}

const config = await configuration()
// With DPOP=<alg> the tokens are sender-constrained (RFC 9449) to a fresh key of that algorithm
// (ES256, or Ed25519: openid-client then signs proofs with `alg: "Ed25519"`, RFC 9864).
const dpopAlg = process.env.DPOP === '1' ? 'ES256' : process.env.DPOP
const DPoP = dpopAlg ? client.getDPoPHandle(config, await client.randomDPoPKeyPair(dpopAlg)) : undefined
const codeVerifier = client.randomPKCECodeVerifier()
const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier)
const nonce = client.randomNonce()
const state = client.randomState()
const authorizationUrl = await client.buildAuthorizationUrlWithPAR(config, {
  redirect_uri: redirectUri,
  scope: 'openid profile birthdate',
  code_challenge: codeChallenge,
  code_challenge_method: 'S256',
  nonce,
  state,
})
const callback = await signIn(authorizationUrl)
const tokens = await client.authorizationCodeGrant(config, callback, {
  pkceCodeVerifier: codeVerifier,
  expectedNonce: nonce,
  expectedState: state,
  idTokenExpected: true,
}, undefined, { DPoP })
const claims = tokens.claims()
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP })
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP })
const introspected = await client.tokenIntrospection(config, refreshed.access_token)
await client.tokenRevocation(config, refreshed.refresh_token)
const afterRevocation = await client.tokenIntrospection(config, refreshed.access_token)

console.log(JSON.stringify({
  library: 'openid-client',
  client_id: config.clientMetadata().client_id,
  token_type: tokens.token_type,
  refreshed_token_type: refreshed.token_type,
  authorization_url_uses_par: authorizationUrl.searchParams.has('request_uri'),
  callback_has_iss: callback.searchParams.get('iss'),
  id_token_claims: claims,
  userinfo,
  refreshed_rotates: refreshed.refresh_token !== tokens.refresh_token,
  introspection: introspected,
  after_revocation: afterRevocation,
}))
