// Cross-checks of citizen-core with independent JavaScript implementations (@sd-jwt/sd-jwt-vc,
// the OpenWallet Foundation's SD-JWT VC library, and `jose`). Run by
// bindings/python/tests/test_interop.py; reads JSON on stdin, prints JSON on stdout.
//
//   node sdjwt_js.mjs verify        {presentation, issuer_jwk, nonce}  -> {ok, payload, typ, kb_typ}
//   node sdjwt_js.mjs issue-array   {issuer, audience, nonce, vct}     -> {presentation, issuer_jwk, ...}
//       a PID-shaped SD-JWT VC whose always-visible `nationalities` array has RFC 9901
//       array-element disclosures, presented with the first element only and a KB-JWT
//   node sdjwt_js.mjs id-token      {issuer, audience, id_token}       -> {ok, claims, typ}
//       what a generic OpenID Connect relying party does: discovery document, its jwks_uri,
//       jwtVerify (the server's dev CA comes through NODE_EXTRA_CA_CERTS)
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { ES256, digest, generateSalt } from '@sd-jwt/crypto-nodejs';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';

const readStdin = async () => {
  let s = '';
  for await (const chunk of process.stdin) s += chunk;
  return JSON.parse(s);
};

const header = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString());

async function verify({ presentation, issuer_jwk, nonce }) {
  const sdjwt = new SDJwtVcInstance({
    verifier: await ES256.getVerifier(issuer_jwk),
    // The holder key comes from the credential's cnf.jwk, as the format says.
    kbVerifier: async (data, sig, payload) => (await ES256.getVerifier(payload.cnf.jwk))(data, sig),
    hasher: digest,
    hashAlg: 'sha-256',
  });
  try {
    const r = await sdjwt.verify(presentation, { keyBindingNonce: nonce });
    const parts = presentation.split('~');
    return { ok: true, payload: r.payload, typ: header(parts[0]).typ, kb_typ: r.kb?.header?.typ ?? null };
  } catch (e) {
    return { ok: false, error: String(e?.message ?? e) };
  }
}

async function issueArray({ issuer, audience, nonce, vct }) {
  const iss = await ES256.generateKeyPair();
  const holder = await ES256.generateKeyPair();
  const sdjwt = new SDJwtVcInstance({
    signer: await ES256.getSigner(iss.privateKey),
    signAlg: 'ES256',
    kbSigner: await ES256.getSigner(holder.privateKey),
    kbSignAlg: 'ES256',
    hasher: digest,
    hashAlg: 'sha-256',
    saltGenerator: generateSalt,
  });
  const now = Math.floor(Date.now() / 1000);
  const credential = await sdjwt.issue(
    {
      iss: issuer, iat: now - 5, exp: now + 3600, vct, cnf: { jwk: holder.publicKey },
      full_name: 'Nguyễn Văn Mẫu', nationalities: ['VN', 'XX'],
    },
    { _sd: ['full_name'], nationalities: { _sd: [0, 1] } },
    { header: { typ: 'dc+sd-jwt', kid: 'js-issuer' } },
  );
  const presentation = await sdjwt.present(
    credential,
    { full_name: true, nationalities: { 0: true } },
    { kb: { payload: { aud: audience, nonce, iat: now } } },
  );
  return { presentation, issuer, issuer_jwk: iss.publicKey, audience, nonce };
}

async function idToken({ issuer, audience, id_token }) {
  const conf = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const jwks = createRemoteJWKSet(new URL(conf.jwks_uri));
  try {
    const { payload } = await jwtVerify(id_token, jwks, {
      issuer: conf.issuer, audience, algorithms: conf.id_token_signing_alg_values_supported,
    });
    return { ok: true, claims: payload, typ: decodeProtectedHeader(id_token).typ };
  } catch (e) {
    return { ok: false, error: String(e?.code ?? e) };
  }
}

const commands = { verify, 'issue-array': issueArray, 'id-token': idToken };
const cmd = commands[process.argv[2]];
if (!cmd) {
  console.error('usage: node sdjwt_js.mjs verify | issue-array | id-token < input.json');
  process.exit(2);
}
console.log(JSON.stringify(await cmd(await readStdin())));
