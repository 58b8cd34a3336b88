//! The documents wallet (issue 13 item 1, ARCHITECTURE.md decision 32): wire formats shared by
//! the core and the reference server, the element labels shown to the citizen, and the token
//! status list's bit encoding (draft-ietf-oauth-status-list).
//!
//! * `POST /v1/documents` (Bearer + statement, purpose `credential`, nonce from a `credential`
//!   challenge, subject `documents:<sha256 hex of the device public key>`): the server issues the
//!   citizen's four documents, each as an ISO 18013-5 mdoc (`IssuerSigned`) and an SD-JWT VC,
//!   both bound to the device key.
//! * `GET /v1/documents/trust-list` (public): a server-signed JWT (`typ` [`TRUST_LIST_TYP`])
//!   listing the issuing-authority (IACA) roots and the reader-authentication roots, with `iat`
//!   and `next_update`, for verifiers that work offline.
//! * `GET /v1/documents/status/{list}` (public): the token status list (`typ`
//!   [`STATUS_LIST_TYP`]) the documents point to.
//! * `POST /v1/official/documents/revoke` (officials' API): set a document's status bit.

use serde::{Deserialize, Serialize};

use super::SignedStatement;

/// `POST`: issue the citizen's documents.
pub const PATH_DOCUMENTS: &str = "/v1/documents";
/// `GET`: the signed trust list.
pub const PATH_TRUST_LIST: &str = "/v1/documents/trust-list";
/// `GET`: a token status list (the prefix; the list id follows).
pub const PATH_STATUS_LIST_PREFIX: &str = "/v1/documents/status/";
/// `POST` (officials' API): revoke an issued document.
pub const PATH_OFFICIAL_DOCUMENT_REVOKE: &str = "/v1/official/documents/revoke";
/// `POST` (officials' API): certify a verifier's reader-authentication key for a role.
pub const PATH_OFFICIAL_READER_ENROL: &str = "/v1/official/documents/readers";
/// `typ` of the trust list JWT.
pub const TRUST_LIST_TYP: &str = "trustlist+jwt";
/// `typ` of the status list token (draft-ietf-oauth-status-list §5.1).
pub const STATUS_LIST_TYP: &str = "statuslist+jwt";
/// Subject prefix of the issuance statement.
pub const DOCUMENTS_SUBJECT_PREFIX: &str = "documents:";
/// Content type of a status list token.
pub const STATUS_LIST_CONTENT_TYPE: &str = "application/statuslist+jwt";

/// Error codes of the documents endpoints (in the `ErrorBody`).
pub mod codes {
    /// No issued document has this id.
    pub const UNKNOWN_DOCUMENT: &str = "unknown_document";
    /// No status list has this id.
    pub const UNKNOWN_STATUS_LIST: &str = "unknown_status_list";
    /// The reader's public key is not an uncompressed P-256 point.
    pub const INVALID_READER_KEY: &str = "invalid_reader_key";
}

/// The four documents of the wallet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Căn cước công dân (CCCD), with the identity level.
    Cccd,
    /// Giấy phép lái xe (GPLX), as the ISO 18013-5 mobile driving licence.
    DrivingLicence,
    /// Thẻ bảo hiểm y tế (BHYT).
    HealthInsurance,
    /// Giấy chứng nhận đăng ký xe.
    VehicleRegistration,
}

impl DocumentKind {
    /// Every kind, in display order.
    pub const ALL: [DocumentKind; 4] = [
        DocumentKind::Cccd,
        DocumentKind::DrivingLicence,
        DocumentKind::HealthInsurance,
        DocumentKind::VehicleRegistration,
    ];

    /// The mdoc docType.
    pub fn doc_type(self) -> &'static str {
        match self {
            DocumentKind::Cccd => "vn.gov.bca.cccd.1",
            DocumentKind::DrivingLicence => "org.iso.18013.5.1.mDL",
            DocumentKind::HealthInsurance => "vn.gov.bhxh.bhyt.1",
            DocumentKind::VehicleRegistration => "vn.gov.bca.vehicle_registration.1",
        }
    }

    /// The single namespace of the document's elements.
    pub fn namespace(self) -> &'static str {
        match self {
            DocumentKind::DrivingLicence => "org.iso.18013.5.1",
            other => other.doc_type(),
        }
    }

    /// The SD-JWT VC type (`vct`).
    pub fn vct(self) -> &'static str {
        match self {
            DocumentKind::Cccd => "urn:vn:gov:citizen:vct:cccd:1",
            DocumentKind::DrivingLicence => "urn:vn:gov:citizen:vct:mdl:1",
            DocumentKind::HealthInsurance => "urn:vn:gov:citizen:vct:bhyt:1",
            DocumentKind::VehicleRegistration => "urn:vn:gov:citizen:vct:vehicle_registration:1",
        }
    }

    /// The kind of a docType.
    pub fn from_doc_type(doc_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.doc_type() == doc_type)
    }

    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Cccd => "cccd",
            DocumentKind::DrivingLicence => "driving_licence",
            DocumentKind::HealthInsurance => "health_insurance",
            DocumentKind::VehicleRegistration => "vehicle_registration",
        }
    }

    /// Names in Vietnamese and English.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            DocumentKind::Cccd => ("Căn cước công dân", "Citizen identity card"),
            DocumentKind::DrivingLicence => ("Giấy phép lái xe", "Driving licence"),
            DocumentKind::HealthInsurance => ("Thẻ bảo hiểm y tế", "Health insurance card"),
            DocumentKind::VehicleRegistration => ("Giấy đăng ký xe", "Vehicle registration"),
        }
    }
}

/// Body of `POST /v1/documents`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentsRequest {
    /// Purpose `credential`, nonce from a `credential` challenge, subject
    /// `documents:<sha256 hex of the device public key SEC1 bytes>`.
    pub signed: SignedStatement,
}

/// One issued document in both formats.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedDocumentWire {
    /// The server's id of this issuance (what an official revokes).
    pub id: String,
    /// Which document.
    pub kind: DocumentKind,
    /// base64url of the CBOR `IssuerSigned` (ISO 18013-5).
    pub mdoc: String,
    /// The SD-JWT VC (`typ` `dc+sd-jwt`, `x5c` = the document signer's chain).
    pub sd_jwt: String,
    /// Index in the status list.
    pub status_idx: u64,
    /// URL of the status list token.
    pub status_uri: String,
}

/// Answer of `POST /v1/documents`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentsResponse {
    /// The four documents.
    pub documents: Vec<IssuedDocumentWire>,
    /// The signed trust list (as served at [`PATH_TRUST_LIST`]) the wallet checks them against.
    pub trust_list: String,
}

/// Claims of the trust list JWT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustListClaims {
    /// The server (audience).
    pub iss: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// When a fresher list will be published; a verifier reports a list past it as stale.
    pub next_update: i64,
    /// Issuing-authority roots (IACA), base64 (standard, padded) DER, as in `x5c`.
    pub iaca: Vec<String>,
    /// Reader-authentication roots, same encoding.
    pub reader_roots: Vec<String>,
}

impl crate::jwt::JwtKind for TrustListClaims {
    const TYP: &'static str = TRUST_LIST_TYP;
}

/// Claims of the token status list JWT (draft-ietf-oauth-status-list §5.1), `typ`
/// `statuslist+jwt`, signed by the server's token key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusListClaims {
    /// The list's own URL (what a document's `status.status_list.uri` names).
    pub sub: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expiry (Unix seconds): past it, a verifier reports the status as not checked.
    pub exp: i64,
    /// Seconds a verifier may cache it before fetching a fresh one.
    #[serde(default)]
    pub ttl: Option<i64>,
    /// The list.
    pub status_list: StatusListBody,
}

/// `status_list` of a status list token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusListBody {
    /// Bits per entry (1 here).
    pub bits: u8,
    /// base64url of the ZLIB-compressed bytes ([`StatusBits::decode`]).
    pub lst: String,
}

impl crate::jwt::JwtKind for StatusListClaims {
    const TYP: &'static str = STATUS_LIST_TYP;
}

/// Body of `POST /v1/official/documents/revoke`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeDocumentRequest {
    /// The issued document's id.
    pub document_id: String,
}

/// The demo verifiers a reader certificate can be issued for (decision 45). Each is authorised
/// for a fixed set of documents and elements ([`ReaderRole::authorised`]), written into its
/// certificate, which the holder checks before showing anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReaderRole {
    /// Traffic police: the driving licence, the vehicle registration, identity from the CCCD.
    TrafficPolice,
    /// A hospital's reception: the health-insurance card and identity.
    Hospital,
    /// A bank counter (customer identification): the CCCD and the licence's identity elements.
    BankCounter,
}

impl ReaderRole {
    /// Every role.
    pub const ALL: [ReaderRole; 3] = [ReaderRole::TrafficPolice, ReaderRole::Hospital, ReaderRole::BankCounter];

    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReaderRole::TrafficPolice => "traffic_police",
            ReaderRole::Hospital => "hospital",
            ReaderRole::BankCounter => "bank_counter",
        }
    }

    /// The reader's names in Vietnamese and English (the certificate's CN is `vi / en`).
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            ReaderRole::TrafficPolice => ("Cảnh sát giao thông", "Traffic police"),
            ReaderRole::Hospital => ("Bệnh viện (quầy tiếp đón)", "Hospital reception"),
            ReaderRole::BankCounter => ("Quầy giao dịch ngân hàng", "Bank counter"),
        }
    }

    /// The organisation in the reader certificate (`O=`, `vi / en`; demo agencies).
    pub fn organisation(self) -> &'static str {
        match self {
            ReaderRole::TrafficPolice => "Bộ Công an / Ministry of Public Security (demo)",
            ReaderRole::Hospital => "Bệnh viện thử nghiệm / Demo hospital",
            ReaderRole::BankCounter => "Ngân hàng thử nghiệm / Demo bank",
        }
    }

    /// `docType → namespace → element identifiers` this role may ask for.
    pub fn authorised(self) -> Vec<(DocumentKind, &'static [&'static str])> {
        const MDL_ALL: &[&str] = &[
            "family_name",
            "given_name",
            "birth_date",
            "issue_date",
            "expiry_date",
            "issuing_country",
            "issuing_authority",
            "document_number",
            "portrait",
            "un_distinguishing_sign",
            "driving_privileges",
        ];
        const MDL_IDENTITY: &[&str] = &["family_name", "given_name", "birth_date", "portrait", "document_number"];
        const MDL_AGE: &[&str] = &["family_name", "given_name", "birth_date", "portrait"];
        const CCCD_IDENTITY: &[&str] = &["document_number", "full_name", "birth_date", "sex"];
        const CCCD_ALL: &[&str] = &[
            "document_number",
            "full_name",
            "birth_date",
            "sex",
            "nationality",
            "place_of_residence",
            "issue_date",
            "expiry_date",
            "issuing_authority",
            "identity_level",
        ];
        const VEHICLE_ALL: &[&str] = &[
            "plate_number",
            "chassis_number",
            "engine_number",
            "make",
            "model",
            "color",
            "owner_name",
            "registration_date",
        ];
        const BHYT_ALL: &[&str] =
            &["insurance_number", "full_name", "birth_date", "sex", "registered_hospital", "valid_from", "valid_until"];
        match self {
            ReaderRole::TrafficPolice => vec![
                (DocumentKind::DrivingLicence, MDL_ALL),
                (DocumentKind::VehicleRegistration, VEHICLE_ALL),
                (DocumentKind::Cccd, CCCD_IDENTITY),
            ],
            ReaderRole::Hospital => vec![
                (DocumentKind::HealthInsurance, BHYT_ALL),
                (DocumentKind::Cccd, CCCD_IDENTITY),
                (DocumentKind::DrivingLicence, MDL_AGE),
            ],
            ReaderRole::BankCounter => {
                vec![(DocumentKind::Cccd, CCCD_ALL), (DocumentKind::DrivingLicence, MDL_IDENTITY)]
            }
        }
    }
}

/// Body of `POST /v1/official/documents/readers` (officials' token): certify the verifier's
/// reader-authentication public key for `role`. The key pair is generated on the verifier's
/// machine; only the public half travels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderEnrolRequest {
    /// Which demo verifier.
    pub role: ReaderRole,
    /// base64url of the uncompressed SEC1 P-256 public key (65 bytes).
    pub public_key: String,
}

/// Answer of `POST /v1/official/documents/readers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderEnrolResponse {
    /// The reader certificate chain, leaf first, base64 (standard, padded) DER, as in `x5c`
    /// (the reader root itself is in the trust list, not here).
    pub x5chain: Vec<String>,
    /// The role certified.
    pub role: ReaderRole,
    /// End of the certificate's validity (Unix seconds).
    pub not_after: i64,
}

/// The labels (Vietnamese, English) of an element identifier, for display.
pub fn element_label(identifier: &str) -> (&'static str, &'static str) {
    match identifier {
        "document_number" => ("Số giấy tờ", "Document number"),
        "cccd_number" => ("Số định danh cá nhân", "Personal identification number"),
        "full_name" => ("Họ và tên", "Full name"),
        "family_name" => ("Họ", "Family name"),
        "given_name" => ("Tên", "Given name"),
        "birth_date" => ("Ngày sinh", "Date of birth"),
        "sex" => ("Giới tính", "Sex"),
        "nationality" => ("Quốc tịch", "Nationality"),
        "place_of_residence" | "resident_address" => ("Nơi thường trú", "Place of residence"),
        "issue_date" => ("Ngày cấp", "Date of issue"),
        "expiry_date" => ("Có giá trị đến", "Date of expiry"),
        "issuing_country" => ("Quốc gia cấp", "Issuing country"),
        "issuing_authority" => ("Cơ quan cấp", "Issuing authority"),
        "identity_level" => ("Mức định danh", "Identity level"),
        "portrait" => ("Ảnh chân dung", "Portrait"),
        "driving_privileges" => ("Hạng giấy phép", "Licence categories"),
        "un_distinguishing_sign" => ("Ký hiệu quốc gia", "Distinguishing sign"),
        "insurance_number" => ("Mã số BHYT", "Health insurance number"),
        "registered_hospital" => ("Nơi đăng ký khám chữa bệnh ban đầu", "Registered hospital"),
        "valid_from" => ("Giá trị sử dụng từ", "Valid from"),
        "valid_until" => ("Giá trị sử dụng đến", "Valid until"),
        "plate_number" => ("Biển số", "Plate number"),
        "chassis_number" => ("Số khung", "Chassis number"),
        "engine_number" => ("Số máy", "Engine number"),
        "make" => ("Nhãn hiệu", "Make"),
        "model" => ("Số loại", "Model"),
        "color" => ("Màu sơn", "Colour"),
        "owner_name" => ("Tên chủ xe", "Owner"),
        "registration_date" => ("Ngày đăng ký", "Registration date"),
        _ => ("", ""),
    }
}

/// A token status list with one bit per document (`bits` = 1): bit `i` of byte `i / 8`, least
/// significant first (draft-ietf-oauth-status-list §4.1); 1 = revoked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusBits(pub Vec<u8>);

impl StatusBits {
    /// Whether entry `idx` is set (revoked); `None` when the list is shorter.
    pub fn get(&self, idx: u64) -> Option<bool> {
        let byte = self.0.get(usize::try_from(idx / 8).ok()?)?;
        Some(byte >> (idx % 8) & 1 == 1)
    }

    /// The `lst` value: base64url of the ZLIB (RFC 1950) stream of the bytes. The stream uses
    /// DEFLATE stored blocks (RFC 1951 §3.2.4, "no compression"), which every inflater reads;
    /// the workspace has no compression crate and a revocation list of mostly-zero bits stays
    /// small enough (one byte per eight documents).
    pub fn encode(&self) -> String {
        let mut out = vec![0x78, 0x01];
        let chunks: Vec<&[u8]> = if self.0.is_empty() { vec![&[][..]] } else { self.0.chunks(0xffff).collect() };
        for (i, chunk) in chunks.iter().enumerate() {
            out.push(u8::from(i + 1 == chunks.len()));
            let len = u16::try_from(chunk.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(&adler32(&self.0).to_be_bytes());
        crate::crypto::b64(&out)
    }

    /// Decode an `lst` value written as [`StatusBits::encode`] does (ZLIB with stored blocks,
    /// Adler-32 checked). A list compressed with Huffman blocks is refused (`None`), never
    /// guessed at: the caller reports the status as not checked.
    pub fn decode(lst: &str) -> Option<Self> {
        let data = crate::crypto::unb64(lst)?;
        let (header, mut rest) = (data.get(..2)?, data.get(2..)?);
        if header[0] & 0x0f != 8
            || (u16::from(header[0]) << 8 | u16::from(header[1])) % 31 != 0
            || header[1] & 0x20 != 0
        {
            return None;
        }
        let mut out = Vec::new();
        loop {
            let (&flags, tail) = rest.split_first()?;
            if flags & 0x06 != 0 {
                return None;
            }
            let len = u16::from_le_bytes([*tail.first()?, *tail.get(1)?]);
            let nlen = u16::from_le_bytes([*tail.get(2)?, *tail.get(3)?]);
            if len != !nlen {
                return None;
            }
            let end = 4 + usize::from(len);
            out.extend_from_slice(tail.get(4..end)?);
            rest = tail.get(end..)?;
            if flags & 1 == 1 {
                break;
            }
        }
        if rest.len() != 4 || u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) != adler32(&out) {
            return None;
        }
        Some(StatusBits(out))
    }
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    b << 16 | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_bits_round_trip_and_refuse_corruption() {
        let mut bits = StatusBits(vec![0; 20]);
        bits.0[1] = 0b0000_0100;
        assert_eq!(bits.get(10), Some(true));
        assert_eq!(bits.get(9), Some(false));
        assert_eq!(bits.get(160), None);
        let lst = bits.encode();
        assert_eq!(StatusBits::decode(&lst), Some(bits.clone()));
        // A flipped data byte fails the Adler-32.
        let mut raw = crate::crypto::unb64(&lst).unwrap();
        raw[8] ^= 1;
        assert_eq!(StatusBits::decode(&crate::crypto::b64(&raw)), None);
        // Long lists span several stored blocks.
        let big = StatusBits(vec![0xa5; 70_000]);
        assert_eq!(StatusBits::decode(&big.encode()), Some(big));
    }

    #[test]
    fn doc_types_and_labels() {
        for k in DocumentKind::ALL {
            assert_eq!(DocumentKind::from_doc_type(k.doc_type()), Some(k));
        }
        assert_eq!(DocumentKind::DrivingLicence.doc_type(), "org.iso.18013.5.1.mDL");
        assert_eq!(element_label("plate_number").1, "Plate number");
    }
}
