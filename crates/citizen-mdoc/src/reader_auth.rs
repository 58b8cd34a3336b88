//! Reader authentication (ISO/IEC 18013-5 §9.1.4): the reader signs, per document request,
//! `ReaderAuthenticationBytes = #6.24(bstr .cbor ["ReaderAuthentication", SessionTranscript,
//! ItemsRequestBytes])` with a detached COSE_Sign1 carrying its certificate chain. isomdl 0.2.0
//! gives the structures (`ReaderAuthentication`, `DocRequest.reader_auth`, `X5Chain`,
//! `PreparedCoseSign1`); the checks are ours, each with its own code, because the holder must be
//! able to say exactly why a reader was refused.
//!
//! **Which elements a reader may ask for.** ISO 18013-5 leaves it to the trust framework. Ours
//! puts it in the reader certificate: a non-critical extension ([`READER_AUTHORISATION_OID`])
//! whose value is a DER OCTET STRING holding the CBOR map `{ docType: { namespace: [element
//! identifier, ...] } }`, issued by the reader CA of the trust list. A request for anything
//! outside it is refused (`mdoc.reader_not_authorised`); a certificate without the extension
//! states nothing, which the holder shows as such.

use std::collections::{BTreeMap, BTreeSet};

use ciborium::Value;
use coset::{iana, CoseSign1Builder, HeaderBuilder, SignatureContext};
use der::{Decode, Encode};
use isomdl::cose::sign1::PreparedCoseSign1;
use isomdl::cose::MaybeTagged;
use isomdl::definitions::device_request::ItemsRequestBytes;
use isomdl::definitions::helpers::Tag24;
use isomdl::definitions::x509::X5Chain;
use isomdl::definitions::SessionTranscript180135;
use isomdl::presentation::reader::ReaderAuthentication;
use p256::ecdsa::{signature::Signer, signature::Verifier, Signature, SigningKey};
use x509_cert::Certificate;

use crate::chain::{check_trust, extension_value, has_extended_key_usage, p256_key, parse_chain, MDL_READER_AUTH};
use crate::verify::{require_es256, x5chain};
use crate::{MdocError, TrustAnchor};

/// OID of the reader-certificate extension that lists the elements the reader may request.
/// A placeholder under a private arc of this project: the authority that runs the trust list
/// assigns the production arc.
pub const READER_AUTHORISATION_OID: &str = "1.3.6.1.4.1.99999.18013.1";

/// Elements a reader is authorised to request: docType → namespace → element identifiers.
pub type AuthorisedElements = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// Who asks, as the holder shows it to the citizen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReaderIdentity {
    /// The request carries no reader authentication: anyone could have sent it.
    Anonymous,
    /// The request is signed by a reader whose certificate chains to a reader trust anchor.
    Authenticated(AuthenticatedReader),
}

/// A reader that authenticated itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthenticatedReader {
    /// Subject of the reader certificate (`CN=…, O=…`).
    pub subject: String,
    /// Its common name, for display.
    pub common_name: Option<String>,
    /// Subject of the trust anchor it chains to.
    pub trust_anchor: String,
    /// The elements its certificate authorises; `None` when the certificate states none.
    pub authorised: Option<AuthorisedElements>,
}

fn oid() -> der::asn1::ObjectIdentifier {
    der::asn1::ObjectIdentifier::new_unwrap(READER_AUTHORISATION_OID)
}

/// The DER value of the authorisation extension for `elements` (for the reader CA that issues
/// reader certificates, and for tests).
pub fn encode_reader_authorisation(elements: &AuthorisedElements) -> Vec<u8> {
    let map = Value::Map(
        elements
            .iter()
            .map(|(doc_type, namespaces)| {
                let namespaces = Value::Map(
                    namespaces
                        .iter()
                        .map(|(ns, ids)| {
                            (Value::Text(ns.clone()), Value::Array(ids.iter().cloned().map(Value::Text).collect()))
                        })
                        .collect(),
                );
                (Value::Text(doc_type.clone()), namespaces)
            })
            .collect(),
    );
    let mut cbor = Vec::new();
    // Writing a Value into a Vec cannot fail.
    let _ = ciborium::into_writer(&map, &mut cbor);
    der::asn1::OctetString::new(cbor).and_then(|o| o.to_der()).unwrap_or_default()
}

fn decode_reader_authorisation(der_value: &[u8]) -> Result<AuthorisedElements, MdocError> {
    let bad = |what: &str| MdocError::ReaderAuthInvalid(format!("authorisation extension: {what}"));
    let octets = der::asn1::OctetString::from_der(der_value).map_err(|_| bad("not an OCTET STRING"))?;
    let value: Value = ciborium::from_reader(octets.as_bytes()).map_err(|_| bad("not CBOR"))?;
    let Value::Map(doc_types) = value else { return Err(bad("not a map")) };
    let mut out = AuthorisedElements::new();
    for (doc_type, namespaces) in doc_types {
        let (Value::Text(doc_type), Value::Map(namespaces)) = (doc_type, namespaces) else {
            return Err(bad("docType entry"));
        };
        let entry = out.entry(doc_type).or_default();
        for (ns, ids) in namespaces {
            let (Value::Text(ns), Value::Array(ids)) = (ns, ids) else { return Err(bad("namespace entry")) };
            let set = entry.entry(ns).or_default();
            for id in ids {
                let Value::Text(id) = id else { return Err(bad("element identifier")) };
                set.insert(id);
            }
        }
    }
    Ok(out)
}

fn common_name(cert: &Certificate) -> Option<String> {
    const CN: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("2.5.4.3");
    cert.tbs_certificate.subject.0.iter().flat_map(|rdn| rdn.0.iter()).find(|atv| atv.oid == CN).and_then(|atv| {
        atv.value
            .decode_as::<der::asn1::Utf8StringRef<'_>>()
            .map(|s| s.as_str().to_owned())
            .or_else(|_| atv.value.decode_as::<der::asn1::PrintableStringRef<'_>>().map(|s| s.as_str().to_owned()))
            .ok()
    })
}

/// `ReaderAuthenticationBytes` for one items request of this session.
fn reader_authentication_bytes(
    transcript: &SessionTranscript180135,
    items_request: &ItemsRequestBytes,
) -> Result<Vec<u8>, MdocError> {
    let ra = ReaderAuthentication("ReaderAuthentication".into(), transcript.clone(), items_request.clone());
    let tagged = Tag24::new(ra).map_err(|e| MdocError::Malformed(format!("ReaderAuthentication: {e}")))?;
    isomdl::cbor::to_vec(&tagged).map_err(|e| MdocError::Malformed(format!("ReaderAuthentication: {e}")))
}

/// Check one request's reader authentication: chain to a reader trust anchor
/// (`mdoc.reader_untrusted`), reader-auth extended key usage and signature over this session's
/// `ReaderAuthenticationBytes` (`mdoc.reader_auth_invalid`), validity at `now`
/// (`mdoc.reader_certificate_expired`).
pub(crate) fn verify_reader_auth(
    reader_auth: &coset::CoseSign1,
    transcript: &SessionTranscript180135,
    items_request: &ItemsRequestBytes,
    anchors: &[TrustAnchor],
    now_unix: i64,
) -> Result<AuthenticatedReader, MdocError> {
    let invalid = |what: &str| MdocError::ReaderAuthInvalid(what.to_owned());
    require_es256(&reader_auth.protected.header.alg).map_err(|_| invalid("signature algorithm is not ES256"))?;
    if reader_auth.payload.is_some() {
        return Err(invalid("the payload must be detached"));
    }
    let chain = parse_chain(&x5chain(reader_auth).map_err(|_| invalid("no x5chain"))?)
        .map_err(|_| invalid("x5chain is not a certificate chain"))?;
    let trust = check_trust(&chain, anchors).map_err(|e| match e {
        MdocError::IssuerUntrusted => MdocError::ReaderUntrusted,
        other => other,
    })?;
    let leaf = chain.first().ok_or_else(|| invalid("empty x5chain"))?;
    if !has_extended_key_usage(leaf, &MDL_READER_AUTH) {
        return Err(invalid("not a reader authentication certificate"));
    }
    let key = p256_key(leaf)?;
    let payload = reader_authentication_bytes(transcript, items_request)?;
    let tbs =
        coset::sig_structure_data(SignatureContext::CoseSign1, reader_auth.protected.clone(), None, b"", &payload);
    let sig = Signature::from_slice(&reader_auth.signature).map_err(|_| invalid("signature encoding"))?;
    key.verify(&tbs, &sig).map_err(|_| invalid("signature does not verify"))?;
    if !trust.valid_at(now_unix) {
        return Err(MdocError::ReaderCertificateExpired);
    }
    let authorised = extension_value(leaf, &oid()).map(decode_reader_authorisation).transpose()?;
    Ok(AuthenticatedReader {
        subject: leaf.tbs_certificate.subject.to_string(),
        common_name: common_name(leaf),
        trust_anchor: trust.anchor_subject(),
        authorised,
    })
}

/// Check a reader certificate chain (DER, leaf first) on its own, as a verifier does with the
/// certificate it was just issued: chain to a reader trust anchor (`mdoc.reader_untrusted`),
/// the mdlReaderAuth extended key usage and a readable authorisation extension
/// (`mdoc.reader_auth_invalid`), validity at `now` (`mdoc.reader_certificate_expired`).
/// Returns the reader as the holder will see it.
pub fn check_reader_certificate(
    chain_der: &[Vec<u8>],
    anchors: &[TrustAnchor],
    now_unix: i64,
) -> Result<AuthenticatedReader, MdocError> {
    let invalid = |what: &str| MdocError::ReaderAuthInvalid(what.to_owned());
    let chain = parse_chain(chain_der).map_err(|_| invalid("not a certificate chain"))?;
    let trust = check_trust(&chain, anchors).map_err(|e| match e {
        MdocError::IssuerUntrusted => MdocError::ReaderUntrusted,
        other => other,
    })?;
    let leaf = chain.first().ok_or_else(|| invalid("empty chain"))?;
    if !has_extended_key_usage(leaf, &MDL_READER_AUTH) {
        return Err(invalid("not a reader authentication certificate"));
    }
    if !trust.valid_at(now_unix) {
        return Err(MdocError::ReaderCertificateExpired);
    }
    let authorised = extension_value(leaf, &oid()).map(decode_reader_authorisation).transpose()?;
    Ok(AuthenticatedReader {
        subject: leaf.tbs_certificate.subject.to_string(),
        common_name: common_name(leaf),
        trust_anchor: trust.anchor_subject(),
        authorised,
    })
}

/// The reader's authentication key and certificate chain (leaf first), for readers that
/// authenticate their requests. The verifier's key lives in the verifier's own process (a
/// kiosk or the police terminal), so it is held here as a software key.
pub struct ReaderAuthKey {
    key: SigningKey,
    x5chain: X5Chain,
}

impl std::fmt::Debug for ReaderAuthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderAuthKey")
            .field("subject", &self.x5chain.end_entity_certificate().tbs_certificate.subject.to_string())
            .finish_non_exhaustive()
    }
}

impl ReaderAuthKey {
    /// A reader key with its chain (DER, leaf first). The leaf must hold `key`'s public key.
    pub fn new(key: SigningKey, chain_der: &[Vec<u8>]) -> Result<Self, MdocError> {
        let mut builder = X5Chain::builder();
        for der in chain_der {
            builder = builder
                .with_der_certificate(der)
                .map_err(|e| MdocError::Malformed(format!("reader certificate: {e}")))?;
        }
        let x5chain = builder.build().map_err(|e| MdocError::Malformed(format!("reader chain: {e}")))?;
        let leaf_key = p256_key(x5chain.end_entity_certificate())?;
        if leaf_key != *key.verifying_key() {
            return Err(MdocError::Malformed("the reader certificate does not hold the reader key".into()));
        }
        Ok(ReaderAuthKey { key, x5chain })
    }

    /// Sign one items request of this session.
    pub(crate) fn sign(
        &self,
        transcript: &SessionTranscript180135,
        items_request: &ItemsRequestBytes,
    ) -> Result<MaybeTagged<coset::CoseSign1>, MdocError> {
        let payload = reader_authentication_bytes(transcript, items_request)?;
        let builder = CoseSign1Builder::new().protected(HeaderBuilder::new().algorithm(iana::Algorithm::ES256).build());
        let prepared = PreparedCoseSign1::new(builder, Some(&payload), None, false)
            .map_err(|e| MdocError::Malformed(format!("ReaderAuth: {e}")))?;
        let sig: Signature = self.key.sign(prepared.signature_payload());
        let mut cose = prepared.finalize(sig.to_bytes().to_vec());
        cose.inner.unprotected.rest.push((
            coset::Label::Int(isomdl::definitions::x509::x5chain::X5CHAIN_COSE_HEADER_LABEL),
            self.x5chain.into_cbor(),
        ));
        Ok(cose)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorisation_extension_round_trips() {
        let mut elements = AuthorisedElements::new();
        elements
            .entry("org.iso.18013.5.1.mDL".into())
            .or_default()
            .insert("org.iso.18013.5.1".into(), ["family_name".to_owned(), "portrait".to_owned()].into());
        let der = encode_reader_authorisation(&elements);
        assert_eq!(decode_reader_authorisation(&der).unwrap(), elements);
        assert_eq!(decode_reader_authorisation(&der[..der.len() - 1]).unwrap_err().code(), "mdoc.reader_auth_invalid");
        let _ = Encode::to_der(&oid()).unwrap();
    }
}
