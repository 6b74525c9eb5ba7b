// node oidc-provider as a peer for scripts/bench-peers: one confidential client
// (client_secret_basic) with the client_credentials grant, two resource servers — one whose
// access tokens are opaque (checked by introspection, RFC 7662) and one whose access tokens are
// EdDSA JWTs — and an Ed25519 signing key. In-memory storage, no logging.
// Usage: node oidc-provider.mjs PORT   (prints "ready" once listening)
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 3000);
const { privateKey } = generateKeyPairSync('ed25519');
const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'EdDSA', use: 'sig', kid: 'bench' };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'bench',
    client_secret: 'bench-secret-bench-secret-bench-secret',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'EdDSA',
  }],
  jwks: { keys: [jwk] },
  scopes: ['api'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:bench:opaque',
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => (resource === 'urn:bench:jwt'
        ? { scope: 'api', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'EdDSA' } } }
        : { scope: 'api', accessTokenFormat: 'opaque' }),
    },
  },
});
provider.listen(port, '127.0.0.1', () => console.log('ready'));
