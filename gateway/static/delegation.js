/**
 * Delegations signed in the browser, with WebCrypto and nothing else.
 *
 * A delegation is a compact JWS, ES256, with the signer's certificate in `x5c`: the same format
 * as chaincode/delegation.py, which the channels' contracts verify. WebCrypto's ECDSA signature
 * is already JWS's r || s, so no library is needed.
 *
 *   const key = await importSigningKey(pkcs8Pem);           // non-extractable
 *   const token = await signDelegation({key, certificatePem, mspId, audience, channels});
 *   fetch("/graphql", {headers: {"X-Wallet": walletHeader(token, channels)}, ...});
 *
 * `audience` is the relay's fingerprint, as the gateway's GET /healthz shows it
 * (`relay.fingerprint`).
 */

export const TOKEN_TYPE = "datachannels-delegation+jwt";
export const ACTIONS = ["read", "publish"];
export const DEFAULT_TTL_SECONDS = 600;

const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256" };
const ES256 = { name: "ECDSA", hash: "SHA-256" };

/** A PKCS #8 PEM private key as a CryptoKey that can sign and can never be exported. */
export async function importSigningKey(pkcs8Pem) {
  const der = pemBody(pkcs8Pem, "PRIVATE KEY");
  return crypto.subtle.importKey("pkcs8", der, ECDSA_P256, false, ["sign"]);
}

/**
 * A delegation signed with `key` for the relay named by `audience`, as a compact JWS.
 *
 * `now` is seconds since the epoch (default: the clock); the delegation is valid from then for
 * `ttlSeconds`. `publishes` (how many footprints it may publish) is only sent with "publish".
 */
export async function signDelegation({
  key,
  certificatePem,
  mspId,
  audience,
  channels,
  actions = ["read"],
  ttlSeconds = DEFAULT_TTL_SECONDS,
  publishes = 1,
  now,
}) {
  const unknown = actions.filter((action) => !ACTIONS.includes(action));
  if (unknown.length > 0 || actions.length === 0) {
    throw new RangeError(`actions must be some of ${ACTIONS.join(", ")}, got ${unknown}`);
  }
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError("a delegation's lifetime must be a positive whole number of seconds");
  }
  if (!Number.isInteger(publishes) || publishes < 1) {
    throw new RangeError("publishes must be a whole number, at least 1");
  }
  if (!audience || !mspId || !channels || channels.length === 0) {
    throw new TypeError("a delegation needs an audience, an MSP id and at least one channel");
  }
  const issued = now ?? Math.floor(Date.now() / 1000);
  const claims = {
    aud: audience,
    sub: mspId,
    channels: uniqueSorted(channels),
    actions: [...actions],
    iat: issued,
    nbf: issued,
    exp: issued + ttlSeconds,
    jti: base64url(crypto.getRandomValues(new Uint8Array(16))),
  };
  if (actions.includes("publish")) {
    claims.publishes = publishes;
  }
  const certificate = new Uint8Array(pemBody(certificatePem, "CERTIFICATE"));
  const header = { alg: "ES256", typ: TOKEN_TYPE, x5c: [base64(certificate)] };
  const signingInput = `${base64url(jsonBytes(header))}.${base64url(jsonBytes(claims))}`;
  const signature = await crypto.subtle.sign(ES256, key, new TextEncoder().encode(signingInput));
  return `${signingInput}.${base64url(new Uint8Array(signature))}`;
}

/** The `X-Wallet` header value that hands `token` to the gateway for each of `channels`. */
export function walletHeader(token, channels) {
  const wallet = Object.fromEntries(
    uniqueSorted(channels).map((channel) => [channel, { delegation: token }]),
  );
  return base64url(jsonBytes(wallet));
}

// ------------------------------------------------------------------------------- encodings

function pemBody(pem, label) {
  const match = new RegExp(`-----BEGIN ${label}-----([^-]+)-----END ${label}-----`).exec(pem);
  if (!match) {
    throw new TypeError(`expected a PEM block of type ${label}`);
  }
  const binary = atob(match[1].replace(/\s+/g, ""));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0)).buffer;
}

function jsonBytes(value) {
  return new TextEncoder().encode(JSON.stringify(value));
}

function base64(bytes) {
  let binary = "";
  for (const byte of bytes) {
    binary += String.fromCharCode(byte);
  }
  return btoa(binary);
}

function base64url(bytes) {
  return base64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function uniqueSorted(names) {
  return [...new Set(names)].sort();
}
