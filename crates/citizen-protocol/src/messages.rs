//! The message catalogue: every user-visible condition as a stable code with a Vietnamese and an
//! English text ([`Msg`]), and the two plain records that carry them ([`ErrorDetail`],
//! [`FieldError`]).
//!
//! It lives here, with the validators that produce field errors ([`crate::cccd`]), so the server
//! and tools can use the same codes and texts. Codes are API: once shipped, a code is never
//! renamed or reused. The core re-exports everything from `citizen_core::error` and declares the
//! two records to UniFFI there.

/// A stable code with its message in both languages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `auth.locked_out`.
    pub code: String,
    /// Message for the citizen in Vietnamese.
    pub message_vi: String,
    /// Message for the citizen in English.
    pub message_en: String,
}

/// One invalid input field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field name as in the API (`cccd`, `date_of_birth`, `phone`, `passcode`).
    pub field: String,
    /// Stable code, e.g. `cccd.province`.
    pub code: String,
    /// Vietnamese message.
    pub message_vi: String,
    /// English message.
    pub message_en: String,
}

impl FieldError {
    /// The error of `field` (a static API name) with the message `msg`.
    pub fn new(field: &str, msg: Msg) -> Self {
        Self::at(field.to_string(), msg)
    }

    /// The error of a computed field path (`members.0.name`) with the message `msg`.
    pub fn at(field: String, msg: Msg) -> Self {
        FieldError {
            field,
            code: msg.code().to_string(),
            message_vi: msg.vi().to_string(),
            message_en: msg.en().to_string(),
        }
    }
}

macro_rules! messages {
    ($( $name:ident => $code:literal, $vi:literal, $en:literal; )*) => {
        /// Every user-visible message, with its stable code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Msg { $( #[doc = $en] $name, )* }
        impl Msg {
            /// Stable code.
            pub fn code(self) -> &'static str { match self { $( Msg::$name => $code, )* } }
            /// Vietnamese text.
            pub fn vi(self) -> &'static str { match self { $( Msg::$name => $vi, )* } }
            /// English text.
            pub fn en(self) -> &'static str { match self { $( Msg::$name => $en, )* } }
            /// All messages (for the catalogue test).
            pub fn all() -> &'static [Msg] { &[ $( Msg::$name, )* ] }
        }
    };
}

messages! {
    CccdFormat => "cccd.format", "Số định danh cá nhân phải gồm đúng 12 chữ số.", "The personal identification number must be exactly 12 digits.";
    CccdProvince => "cccd.province", "Mã tỉnh (3 chữ số đầu) của số định danh không hợp lệ.", "The province code (first 3 digits) of the number is not valid.";
    CccdCentury => "cccd.century", "Chữ số thế kỷ và giới tính không khớp với năm sinh.", "The century-and-sex digit does not match the year of birth.";
    CccdBirthYear => "cccd.birth_year", "Hai chữ số năm sinh trong số định danh không khớp với ngày sinh.", "The two birth-year digits in the number do not match the date of birth.";
    DobInvalid => "dob.invalid", "Ngày sinh không hợp lệ (định dạng NNNN-TT-NN).", "The date of birth is not valid (format YYYY-MM-DD).";
    DobInFuture => "dob.future", "Ngày sinh không thể ở tương lai.", "The date of birth cannot be in the future.";
    PhoneFormat => "phone.format", "Số điện thoại di động không hợp lệ.", "The mobile phone number is not valid.";
    PasscodeFormat => "passcode.format", "Mã bảo vệ phải gồm đúng 6 chữ số.", "The passcode must be exactly 6 digits.";
    PasscodeWeak => "passcode.weak", "Mã bảo vệ quá dễ đoán (ví dụ 123456, 111111).", "The passcode is too easy to guess (for example 123456, 111111).";
    PasscodeSame => "passcode.same", "Mã bảo vệ mới phải khác mã hiện tại.", "The new passcode must differ from the current one.";
    // The chip-based CCCD (issue 12, crate citizen-chip).
    ChipAccessDenied => "chip.access_denied", "Thẻ từ chối mã CAN hoặc thông tin MRZ. Hãy kiểm tra 6 chữ số CAN in trên thẻ.", "The card refused the CAN or the MRZ data. Check the 6-digit CAN printed on the card.";
    ChipAccessKeyFormat => "chip.access_key_format", "Mã CAN phải gồm 6 chữ số; số thẻ, ngày sinh và ngày hết hạn phải đúng định dạng.", "The CAN must be 6 digits; the card number, date of birth and expiry date must be well formed.";
    ChipCardRemoved => "chip.card_removed", "Mất kết nối với thẻ. Hãy giữ thẻ áp sát vào thiết bị và thử lại.", "The connection to the card was lost. Hold the card against the device and try again.";
    ChipSecureMessaging => "chip.secure_messaging", "Kênh bảo mật với thẻ bị lỗi (sai mã xác thực). Hãy đọc lại thẻ.", "The secure channel to the card failed (bad authentication code). Read the card again.";
    ChipMalformedTlv => "chip.malformed_tlv", "Dữ liệu trên thẻ có cấu trúc không hợp lệ.", "The data on the card has an invalid structure.";
    ChipMalformedSod => "chip.malformed_sod", "Dữ liệu bảo mật (EF.SOD) trên thẻ không hợp lệ.", "The card's security object (EF.SOD) is not valid.";
    ChipMalformedCertificate => "chip.malformed_certificate", "Chứng thư số trên thẻ không hợp lệ hoặc không được hỗ trợ.", "A certificate on the card is not valid or not supported.";
    ChipMalformedDg13 => "chip.malformed_dg13", "Thông tin nhân thân (DG13) trên thẻ không hợp lệ.", "The personal record (DG13) on the card is not valid.";
    ChipMalformedDataGroup => "chip.malformed_data_group", "Một nhóm dữ liệu trên thẻ không hợp lệ.", "A data group on the card is not valid.";
    ChipHashMismatch => "chip.hash_mismatch", "Dữ liệu trên thẻ không khớp với chữ ký của cơ quan cấp: thẻ có thể đã bị sửa đổi.", "The card's data does not match the issuer's signature: the card may have been altered.";
    ChipSodSignature => "chip.sod_signature", "Chữ ký của cơ quan cấp trên thẻ không hợp lệ.", "The issuer's signature on the card is not valid.";
    ChipSignerUntrusted => "chip.signer_untrusted", "Thẻ không do cơ quan cấp được tin cậy ký.", "The card was not signed by a trusted issuing authority.";
    ChipSignerExpired => "chip.signer_expired", "Chứng thư của cơ quan ký thẻ đã hết hạn hoặc chưa có hiệu lực.", "The certificate of the card's signer has expired or is not yet valid.";
    ChipUnsupportedProtocol => "chip.unsupported_protocol", "Thẻ dùng giao thức hoặc đường cong chưa được hỗ trợ.", "The card uses a protocol or curve that is not supported.";
    ChipNotGenuine => "chip.not_genuine", "Không xác thực được chip của thẻ: thẻ có thể là bản sao.", "The card's chip could not be authenticated: the card may be a copy.";
    ChipProtocol => "chip.protocol", "Thẻ trả lời không đúng giao thức. Hãy thử lại.", "The card answered outside the protocol. Please try again.";
    ChipOtherCitizen => "chip.other_citizen", "Thẻ này thuộc về một công dân khác, không phải chủ tài khoản.", "This card belongs to another citizen, not to the account holder.";
    ChipRecordMismatch => "chip.record_mismatch", "Thông tin trên chip không khớp với dữ liệu dân cư của tài khoản.", "The data on the chip does not match the account's population-register record.";
    ChipProofReplayed => "chip.proof_replayed", "Kết quả đọc thẻ này đã được dùng; hãy đọc lại thẻ.", "This card read was already used; read the card again.";
    ChipProofInvalid => "chip.proof_invalid", "Bằng chứng đọc thẻ không hợp lệ hoặc đã hết hạn; hãy đọc lại thẻ.", "The card-read proof is not valid or has expired; read the card again.";
    ChipNoActiveAuthentication => "chip.no_active_authentication", "Thẻ không hỗ trợ xác thực chủ động nên không thể dùng để nâng mức định danh.", "The card does not support active authentication, so it cannot raise the identity level.";
    MdocTooLarge => "mdoc.too_large", "Dữ liệu giấy tờ nhận được quá lớn nên không được xử lý.", "The document data received is too large and was not processed.";
    MdocMalformed => "mdoc.malformed", "Dữ liệu giấy tờ không đúng định dạng ISO 18013-5 (CBOR).", "The document data is not well-formed ISO 18013-5 (CBOR).";
    MdocNoDocuments => "mdoc.no_documents", "Thiết bị không trình giấy tờ nào hoặc báo lỗi.", "The device presented no document or reported an error.";
    MdocUnsupported => "mdoc.unsupported", "Giấy tờ dùng thuật toán hoặc khoá chưa được hỗ trợ.", "The document uses an algorithm or key that is not supported.";
    MdocIssuerUntrusted => "mdoc.issuer_untrusted", "Giấy tờ không do cơ quan cấp có trong danh sách tin cậy ký.", "The document was not signed by an issuer in the trust list.";
    MdocNotDocumentSigner => "mdoc.not_document_signer", "Chứng thư ký giấy tờ không phải chứng thư dành cho việc cấp giấy tờ.", "The certificate that signed the document is not a document-signer certificate.";
    MdocCertificateExpired => "mdoc.certificate_expired", "Chứng thư của cơ quan cấp giấy tờ đã hết hạn hoặc chưa có hiệu lực.", "The issuer's certificate has expired or is not yet valid.";
    MdocIssuerSignature => "mdoc.issuer_signature", "Chữ ký của cơ quan cấp trên giấy tờ không hợp lệ.", "The issuer's signature on the document is not valid.";
    MdocDocTypeMismatch => "mdoc.doctype_mismatch", "Loại giấy tờ không khớp với loại mà cơ quan cấp đã ký.", "The document type does not match the type the issuer signed.";
    MdocDigestMismatch => "mdoc.digest_mismatch", "Một thông tin trên giấy tờ đã bị sửa đổi sau khi cấp.", "An element of the document was altered after issuance.";
    MdocElementNotSigned => "mdoc.element_not_signed", "Một thông tin trên giấy tờ không được cơ quan cấp ký (có thể lấy từ giấy tờ khác).", "An element of the document was not signed by the issuer (it may come from another document).";
    MdocNotYetValid => "mdoc.not_yet_valid", "Giấy tờ chưa đến thời điểm có hiệu lực.", "The document is not valid yet.";
    MdocExpired => "mdoc.expired", "Giấy tờ đã hết hiệu lực; hãy cập nhật giấy tờ trong ví.", "The document has expired; refresh it in the wallet.";
    MdocDeviceAuth => "mdoc.device_auth_failed", "Thiết bị trình giấy tờ không chứng minh được quyền sở hữu trong phiên này (có thể là phát lại).", "The presenting device did not prove possession in this session (it may be a replay).";
    MdocDeviceMacUnchecked => "mdoc.device_mac_unchecked", "Không kiểm tra được xác thực thiết bị (DeviceMac) vì thiếu khoá phiên của bên kiểm tra.", "Device authentication (DeviceMac) could not be checked: the reader's session key is missing.";
    MdocStatusUnchecked => "mdoc.status_unchecked", "Chưa kiểm tra được tình trạng thu hồi của giấy tờ.", "The document's revocation status could not be checked.";
    MdocEngagementInvalid => "mdoc.engagement_invalid", "Mã QR trình giấy tờ không hợp lệ hoặc không được hỗ trợ.", "The document presentation QR code is not valid or not supported.";
    MdocSessionDecrypt => "mdoc.session_decrypt_failed", "Không giải mã được dữ liệu của phiên trình giấy tờ (sai phiên hoặc dữ liệu bị sửa).", "The presentation session data could not be decrypted (another session, or altered data).";
    MdocSessionEnded => "mdoc.session_ended", "Bên kia đã kết thúc phiên trình giấy tờ.", "The other party ended the presentation session.";
    MdocSessionState => "mdoc.session_state", "Bước trình giấy tờ không đúng thứ tự; hãy bắt đầu lại.", "A presentation step came out of order; please start again.";
    MdocReaderUntrusted => "mdoc.reader_untrusted", "Bên yêu cầu giấy tờ không có trong danh sách tin cậy nên bị từ chối.", "The party requesting the document is not in the trust list and was refused.";
    MdocReaderAuthInvalid => "mdoc.reader_auth_invalid", "Chữ ký xác thực của bên yêu cầu giấy tờ không hợp lệ.", "The requesting party's authentication signature is not valid.";
    MdocReaderCertificateExpired => "mdoc.reader_certificate_expired", "Chứng thư của bên yêu cầu giấy tờ đã hết hạn hoặc chưa có hiệu lực.", "The requesting party's certificate has expired or is not yet valid.";
    MdocReaderNotAuthorised => "mdoc.reader_not_authorised", "Bên yêu cầu hỏi thông tin mà họ không được phép xem nên yêu cầu bị từ chối.", "The requesting party asked for information it is not authorised to see, so the request was refused.";
    MdocSelectionInvalid => "mdoc.selection_invalid", "Thông tin được chọn không nằm trong yêu cầu hoặc không có trên giấy tờ.", "The selected information was not requested or is not on the document.";
    MdocDeviceSignatureInvalid => "mdoc.device_signature_invalid", "Chữ ký của thiết bị không khớp với khoá của giấy tờ; hãy thử lại.", "The device signature does not match the document's key; please try again.";
    MdocFrameInvalid => "mdoc.frame_invalid", "Khung dữ liệu nhận qua kết nối không hợp lệ.", "A data frame received over the connection is not valid.";
    LevelRequired => "level.required", "Dịch vụ này yêu cầu tài khoản định danh mức 2. Hãy xác thực bằng thẻ căn cước gắn chip.", "This service requires a level-2 identity account. Verify with your chip-based ID card.";
    InvalidInput => "input.invalid", "Thông tin nhập vào chưa hợp lệ.", "Some of the information entered is not valid.";
    NoMatch => "enrollment.no_match", "Không tìm thấy công dân khớp với thông tin đã nhập.", "No citizen matches the information entered.";
    NoPendingEnrollment => "enrollment.no_pending", "Chưa có yêu cầu đăng ký nào đang chờ mã OTP.", "There is no enrollment waiting for an OTP.";
    AlreadyEnrolled => "enrollment.already_enrolled", "Thiết bị này đã được đăng ký.", "This device is already enrolled.";
    OtpFormat => "otp.format", "Mã OTP phải gồm 6 chữ số.", "The OTP must be 6 digits.";
    OtpInvalid => "otp.invalid", "Mã OTP không đúng.", "The OTP is not correct.";
    OtpExpired => "otp.expired", "Mã OTP đã hết hạn. Vui lòng yêu cầu mã mới.", "The OTP has expired. Please request a new one.";
    OtpAttemptsExceeded => "otp.attempts_exceeded", "Nhập sai OTP quá nhiều lần. Vui lòng bắt đầu lại.", "Too many wrong OTPs. Please start again.";
    NotEnrolled => "auth.not_enrolled", "Thiết bị chưa được đăng ký tài khoản.", "This device is not enrolled.";
    PasscodeIncorrect => "auth.passcode_incorrect", "Mã bảo vệ không đúng.", "The passcode is not correct.";
    LockedOut => "auth.locked_out", "Nhập sai mã bảo vệ nhiều lần. Vui lòng thử lại sau.", "Too many wrong passcodes. Please try again later.";
    Wiped => "auth.wiped", "Nhập sai mã bảo vệ quá nhiều lần. Dữ liệu trên thiết bị đã bị xoá, vui lòng đăng ký lại.", "Too many wrong passcodes. The data on this device was erased; please enroll again.";
    NotLoggedIn => "auth.not_logged_in", "Bạn chưa đăng nhập.", "You are not logged in.";
    SessionExpired => "auth.session_expired", "Phiên đăng nhập đã hết hạn. Vui lòng đăng nhập lại.", "Your session has expired. Please log in again.";
    SessionRevoked => "auth.session_revoked", "Phiên đăng nhập đã bị thu hồi vì lý do an toàn. Vui lòng đăng nhập lại.", "Your session was revoked for your safety. Please log in again.";
    DeviceInactive => "auth.device_inactive", "Thiết bị này không còn được dùng cho tài khoản (đã bị thay thế hoặc thu hồi).", "This device is no longer active for the account (replaced or revoked).";
    AccountLocked => "auth.account_locked", "Tài khoản đang bị khoá theo quyết định của cơ quan quản lý. Vui lòng liên hệ cơ quan cấp tài khoản.", "The account is locked by a decision of the authority. Please contact the office that issued it.";
    Rejected => "auth.rejected", "Máy chủ từ chối yêu cầu xác thực.", "The server refused the authentication request.";
    NoPendingReset => "passcode.no_pending_reset", "Chưa có yêu cầu đặt lại mã bảo vệ nào.", "There is no passcode reset waiting for an OTP.";
    KeyStore => "keystore.failure", "Kho khoá an toàn của thiết bị báo lỗi.", "The device's secure key store reported an error.";
    KeyInvalidated => "keystore.key_invalidated", "Khoá của thiết bị không còn dùng được (ví dụ sinh trắc học đã thay đổi). Vui lòng đăng ký lại.", "The device key can no longer be used (for example, biometrics changed). Please enroll again.";
    ChipReadCancelled => "chip.cancelled", "Bạn đã dừng việc đọc thẻ. Không có gì thay đổi.", "You stopped reading the card. Nothing was changed.";
    UserCancelled => "keystore.user_cancelled", "Bạn đã huỷ xác thực.", "You cancelled the verification.";
    Offline => "network.offline", "Không có kết nối mạng.", "There is no network connection.";
    Timeout => "network.timeout", "Máy chủ không phản hồi kịp thời.", "The server did not answer in time.";
    Tls => "network.tls", "Không thể thiết lập kết nối an toàn tới máy chủ.", "A secure connection to the server could not be established.";
    InsecureUrl => "network.insecure_url", "Chỉ cho phép kết nối HTTPS.", "Only HTTPS connections are allowed.";
    ServerError => "network.server", "Máy chủ đang gặp sự cố. Vui lòng thử lại sau.", "The server has a problem. Please try again later.";
    ProtocolError => "network.protocol", "Máy chủ trả về dữ liệu không hợp lệ.", "The server sent an answer that is not valid.";
    RateLimited => "network.rate_limited", "Quá nhiều yêu cầu. Vui lòng thử lại sau.", "Too many requests. Please try again later.";
    Storage => "storage.failure", "Lỗi lưu trữ dữ liệu trên thiết bị.", "A storage error occurred on this device.";
    DataKeyLocked => "storage.data_key_locked", "Chưa mở được dữ liệu vì thiết bị đang khoá hoặc kho khoá đang bận. Hãy mở khoá thiết bị rồi thử lại; dữ liệu của bạn vẫn còn nguyên.", "Your data cannot be opened while the device is locked or its key store is busy. Unlock the device and try again; your data is intact.";
    DataKeyLost => "storage.data_key_lost", "Khoá dữ liệu của thiết bị không còn (ví dụ ứng dụng được khôi phục từ bản sao lưu sang máy khác). Cần đăng ký lại.", "The device's data key is gone (for example, the app was restored from a backup onto another phone). Enroll again.";
    SchemaNewer => "storage.schema_newer", "Dữ liệu trên thiết bị do một phiên bản ứng dụng mới hơn tạo ra. Vui lòng cập nhật ứng dụng.", "The data on this device was written by a newer version of the app. Please update the app.";
    AlreadyOpen => "storage.already_open", "Dữ liệu của ứng dụng đang được một phiên khác sử dụng. Hãy đóng phiên đó rồi thử lại.", "The app's data is in use by another instance. Close it and try again.";
    CoreClosed => "core.closed", "Phiên làm việc của ứng dụng đã đóng. Hãy mở lại ứng dụng.", "The app's session was closed. Open the app again.";
    FieldRequired => "field.required", "Trường này là bắt buộc.", "This field is required.";
    FieldUnknown => "field.unknown", "Biểu mẫu không có trường này.", "The form has no such field.";
    FieldLocked => "field.locked", "Trường này lấy từ Cơ sở dữ liệu quốc gia về dân cư và không thể sửa.", "This field comes from the national population database and cannot be changed.";
    TooShort => "text.too_short", "Nội dung quá ngắn.", "The text is too short.";
    TooLong => "text.too_long", "Nội dung quá dài.", "The text is too long.";
    DateInvalid => "date.invalid", "Ngày không hợp lệ (định dạng NNNN-TT-NN).", "The date is not valid (format YYYY-MM-DD).";
    DateInPast => "date.past", "Ngày không được ở quá khứ.", "The date cannot be in the past.";
    DateInFuture => "date.future", "Ngày không được ở tương lai.", "The date cannot be in the future.";
    DateBeforeStart => "date.before_start", "Ngày kết thúc phải sau hoặc bằng ngày bắt đầu.", "The end date must be on or after the start date.";
    DateRangeTooLong => "date.range_too_long", "Khoảng thời gian vượt quá mức cho phép.", "The period is longer than allowed.";
    EmailFormat => "email.format", "Địa chỉ thư điện tử không hợp lệ.", "The e-mail address is not valid.";
    SelectInvalid => "select.invalid", "Lựa chọn không hợp lệ.", "The choice is not valid.";
    ProvinceUnknown => "province.unknown", "Tỉnh/thành phố không có trong danh mục (34 tỉnh, thành từ 2025).", "The province is not in the list (34 provinces since 2025).";
    CommuneUnknown => "commune.unknown", "Xã/phường không có trong danh mục.", "The commune or ward is not in the list.";
    CommuneWrongProvince => "commune.wrong_province", "Xã/phường không thuộc tỉnh/thành phố đã chọn.", "The commune or ward is not in the chosen province.";
    NumberInvalid => "number.invalid", "Giá trị phải là số nguyên không âm.", "The value must be a non-negative whole number.";
    BooleanInvalid => "boolean.invalid", "Giá trị phải là có hoặc không.", "The value must be yes or no.";
    GroupTooFew => "group.too_few", "Cần thêm mục.", "More items are needed.";
    GroupTooMany => "group.too_many", "Quá nhiều mục.", "There are too many items.";
    AttachmentRequired => "attachment.required", "Thiếu giấy tờ đính kèm bắt buộc.", "A required attachment is missing.";
    AttachmentTooLarge => "attachment.too_large", "Tệp đính kèm quá lớn.", "The attachment is too large.";
    AttachmentType => "attachment.type", "Loại tệp đính kèm không được chấp nhận.", "This type of attachment is not accepted.";
    AttachmentUnknown => "attachment.unknown", "Thủ tục không có loại giấy tờ này.", "The procedure has no such attachment.";
    AttachmentUnreadable => "attachment.unreadable", "Không đọc được tệp đính kèm.", "The attachment file cannot be read.";
    DraftNotEditable => "draft.not_editable", "Hồ sơ đã nộp, không thể sửa.", "The request was already submitted and cannot be changed.";
    UnknownDraft => "draft.unknown", "Không tìm thấy hồ sơ nháp.", "The draft was not found.";
    UnknownProcedure => "procedure.unknown", "Không tìm thấy thủ tục.", "The procedure was not found.";
    ProfileMissing => "profile.missing", "Chưa có thông tin công dân trên thiết bị. Vui lòng đăng nhập và đồng bộ.", "The citizen's record is not on this device yet. Please log in and sync.";
    CatalogueMissing => "catalogue.missing", "Chưa có danh mục thủ tục trên thiết bị. Vui lòng kết nối mạng để tải.", "The procedure catalogue is not on this device yet. Please connect to download it.";
    UnknownCase => "case.unknown", "Không tìm thấy hồ sơ.", "The case was not found.";
    CaseNotAwaitingSupplement => "case.not_awaiting_supplement", "Hồ sơ không ở trạng thái chờ bổ sung.", "The case is not waiting for a supplement.";
    ReceiptInvalid => "receipt.invalid", "Biên nhận của máy chủ không hợp lệ; hồ sơ vẫn được giữ để gửi lại.", "The server's receipt is not valid; the request is kept and will be sent again.";
    ConsentQrNotLoginCode => "consent.qr_not_login_code", "Đây không phải mã QR đăng nhập của ứng dụng công dân.", "This is not a citizen app login code.";
    ConsentQrTooLong => "consent.qr_too_long", "Mã QR quá dài, không phải mã đăng nhập hợp lệ.", "The code is too long to be a valid login code.";
    ConsentQrVersion => "consent.qr_version", "Mã đăng nhập thuộc phiên bản mới hơn. Vui lòng cập nhật ứng dụng.", "The login code is of a newer version. Please update the app.";
    ConsentQrMalformed => "consent.qr_malformed", "Mã đăng nhập bị hỏng hoặc không hợp lệ.", "The login code is damaged or not valid.";
    ConsentRegistryInvalid => "consent.registry_invalid", "Danh sách đơn vị được phép kết nối không hợp lệ.", "The list of registered relying parties is not valid.";
    ConsentRpUnknown => "consent.rp_unknown", "Đơn vị yêu cầu không có trong danh sách được phép kết nối.", "The requesting party is not registered.";
    ConsentRpSignatureInvalid => "consent.rp_signature_invalid", "Chữ ký của đơn vị yêu cầu không hợp lệ. Có thể là trang giả mạo.", "The requesting party's signature is not valid. The site may be fake.";
    ConsentOriginUnregistered => "consent.origin_unregistered", "Địa chỉ trang web không được đăng ký cho đơn vị này. Có thể là trang giả mạo.", "The web address is not registered for this party. The site may be fake.";
    ConsentClaimNotAllowed => "consent.claim_not_allowed", "Đơn vị yêu cầu thông tin mà họ không được phép nhận.", "The party asks for information it is not allowed to receive.";
    ConsentRequestExpired => "consent.request_expired", "Yêu cầu đã hết hạn. Vui lòng quét lại mã trên trang web.", "The request has expired. Please scan the code on the website again.";
    ConsentUnknownSession => "consent.unknown_session", "Không tìm thấy yêu cầu đăng nhập.", "The login request was not found.";
    ConsentUnknownShareRequest => "consent.unknown_share_request", "Không tìm thấy yêu cầu chia sẻ dữ liệu (có thể đã được trả lời hoặc đã mở một yêu cầu khác).", "The data-sharing request was not found (it may have been answered, or another request was opened).";
    ConsentFrameStale => "consent.frame_stale", "Mã QR đã cũ (có thể là ảnh chụp được gửi lại). Hãy quét trực tiếp mã trên màn hình.", "The code is out of date (perhaps a forwarded photo). Scan the code on the screen directly.";
    ConsentFrameForged => "consent.frame_forged", "Mã QR không do cổng thông tin tạo ra.", "The code was not made by the portal.";
    ConsentAlreadyScanned => "consent.already_scanned", "Mã đăng nhập này đã được quét bởi thiết bị khác.", "This login code was already scanned by another device.";
    ConsentAlreadyDecided => "consent.already_decided", "Yêu cầu đăng nhập này đã được xử lý.", "This login request was already answered.";
    ConsentSessionMismatch => "consent.session_mismatch", "Xác nhận không khớp với yêu cầu đăng nhập.", "The approval does not match the login request.";
    ConsentClaimsChanged => "consent.claims_changed", "Thông tin được chia sẻ khác với thông tin đã yêu cầu.", "The shared information differs from what was requested.";
    ConsentWrongCode => "consent.wrong_code", "Mã xác nhận không khớp với mã trên trang web. Yêu cầu đã bị huỷ.", "The verification code does not match the one on the website. The request was cancelled.";
    ConsentNoCredential => "consent.no_credential", "Chưa có chứng thư định danh trên thiết bị. Vui lòng kết nối mạng và thử lại.", "The identity credential is not on this device yet. Please connect and try again.";
    ConsentPresentationRejected => "consent.presentation_rejected", "Đơn vị nhận không chấp nhận dữ liệu được chia sẻ.", "The receiving party did not accept the shared data.";
    ConsentPresentationReplayed => "consent.presentation_replayed", "Dữ liệu này đã được gửi trước đó; không thể gửi lại.", "This data was already sent; it cannot be sent again.";
    ConsentPresentationWrongAudience => "consent.presentation_wrong_audience", "Dữ liệu được chia sẻ dành cho một đơn vị khác.", "The shared data was meant for another party.";
    ConsentPurposeNotRegistered => "consent.purpose_not_registered", "Đơn vị không được đăng ký cho mục đích này.", "The party is not registered for this purpose.";
    ConsentShareRequestInvalid => "consent.share_request_invalid", "Yêu cầu chia sẻ dữ liệu không hợp lệ.", "The data-sharing request is not valid.";
    ConsentClaimNotOffered => "consent.claim_not_offered", "Thông tin được chọn không nằm trong yêu cầu.", "A chosen item is not part of the request.";
    ConsentExportInvalid => "consent.export_invalid", "Tệp biên nhận không đúng định dạng.", "The receipt file is not in the expected format.";
    ConsentServerKeyMismatch => "consent.server_key_mismatch", "Khoá của máy chủ trong tệp khác với khoá đã biết.", "The server key in the file differs from the known one.";
    ConsentReceiptTampered => "consent.receipt_tampered", "Nội dung biên nhận đã bị thay đổi.", "The receipt content was changed.";
    ConsentReceiptSignatureInvalid => "consent.receipt_signature_invalid", "Chữ ký của thiết bị trên biên nhận không hợp lệ.", "The device signature on the receipt is not valid.";
    ConsentCountersignatureInvalid => "consent.countersignature_invalid", "Chữ ký xác nhận của máy chủ trên biên nhận không hợp lệ.", "The server's countersignature on the receipt is not valid.";
    ConsentReceiptChainBroken => "consent.receipt_chain_broken", "Danh sách biên nhận bị thiếu, bị xoá hoặc bị đảo thứ tự.", "Receipts are missing, deleted or out of order.";
    ConsentReceiptsTruncated => "consent.receipts_truncated", "Danh sách biên nhận bị cắt bớt: thiếu các biên nhận mới nhất.", "The receipt list was cut short: the newest receipts are missing.";
    ConsentDeliveryInvalid => "consent.delivery_invalid", "Bản ghi kết quả gửi dữ liệu trên biên nhận không hợp lệ.", "The delivery record on a receipt is not valid.";
    ConsentReceiptDamaged => "consent.receipt_damaged", "Một biên nhận trên thiết bị bị hỏng và không đọc được.", "A receipt on this device is damaged and cannot be read.";
    ConsentReceiptMissing => "consent.receipt_missing", "Một biên nhận đã bị xoá khỏi thiết bị.", "A receipt was deleted from this device.";
    ActivityServerKeyInvalid => "activity.server_key_invalid", "Khoá máy chủ được cung cấp để kiểm tra nhật ký không hợp lệ.", "The server key given to check the log is not valid.";
    PcscUnavailable => "pcsc.unavailable", "Không kết nối được dịch vụ đầu đọc thẻ (pcscd chưa chạy).", "The smart-card reader service is not reachable (pcscd is not running).";
    PcscNoReader => "pcsc.no_reader", "Không tìm thấy đầu đọc thẻ nào.", "No card reader was found.";
    PcscReaderNotFound => "pcsc.reader_not_found", "Không có đầu đọc thẻ mang tên đã cho.", "There is no card reader with that name.";
    PcscNoCard => "pcsc.no_card", "Chưa có thẻ trên đầu đọc. Hãy đặt thẻ căn cước lên đầu đọc rồi thử lại.", "There is no card on the reader. Place the ID card on the reader and try again.";
    PcscCardRemoved => "pcsc.card_removed", "Thẻ đã bị nhấc khỏi đầu đọc giữa chừng. Hãy đặt lại thẻ rồi thử lại.", "The card was removed from the reader during the read. Place it again and try again.";
    PcscFailure => "pcsc.failure", "Đầu đọc thẻ báo lỗi.", "The card reader reported an error.";
    InvalidConfig => "setup.invalid_config", "Cấu hình ứng dụng không hợp lệ.", "The app configuration is not valid.";
    // Documents wallet (issue 13 item 1, decision 32).
    MdocDeviceKeyMismatch => "mdoc.device_key_mismatch", "Giấy tờ được cấp cho một khoá thiết bị khác, không phải thiết bị này.", "The document is bound to another device key, not this device's.";
    DocumentUnknown => "documents.unknown", "Không có giấy tờ này trong ví.", "This document is not in the wallet.";
    DocumentSdJwtInvalid => "documents.sd_jwt_invalid", "Bản SD-JWT của giấy tờ không hợp lệ (chữ ký, khoá thiết bị hoặc thời hạn).", "The document's SD-JWT is not valid (signature, device key or validity).";
    DocumentTrustListInvalid => "documents.trust_list_invalid", "Danh sách tin cậy nhận từ máy chủ không hợp lệ hoặc đã quá hạn.", "The trust list received from the server is not valid or is out of date.";
    DocumentMismatch => "documents.mismatch", "Hai bản của giấy tờ (mdoc và SD-JWT) không khớp nhau.", "The two forms of the document (mdoc and SD-JWT) do not match.";
    IdQrMalformed => "idqr.malformed", "Đây không phải mã QR định danh hợp lệ.", "This is not a valid identity code.";
    IdQrBindingInvalid => "idqr.binding_invalid", "Mã QR định danh không do máy chủ định danh xác nhận.", "The identity code is not vouched for by the identity server.";
    IdQrBindingExpired => "idqr.binding_expired", "Xác nhận định danh trong mã đã hết hạn. Vui lòng mở ứng dụng khi có mạng.", "The identity confirmation in the code has expired. Please open the app while online.";
    IdQrSignatureInvalid => "idqr.signature_invalid", "Chữ ký của thiết bị trên mã QR định danh không hợp lệ.", "The device signature on the identity code is not valid.";
    IdQrExpired => "idqr.expired", "Mã QR định danh đã hết hạn (hiệu lực 60 giây).", "The identity code has expired (it is valid for 60 seconds).";
    IdQrReplayed => "idqr.replayed", "Mã QR định danh này đã được sử dụng.", "This identity code has already been used.";
    IdQrDeviceRevoked => "idqr.device_revoked", "Thiết bị tạo mã QR định danh đã bị thu hồi.", "The device that made the identity code has been revoked.";
    // In-person presentation and the verifier mode (issue 13 items 2-3).
    MdocTransportFailed => "mdoc.transport_failed", "Kết nối với thiết bị bên kia bị ngắt hoặc quá thời gian chờ; hãy bắt đầu lại.", "The connection to the other device was lost or timed out; please start again.";
    MdocRevoked => "mdoc.revoked", "Giấy tờ đã bị cơ quan cấp thu hồi.", "The document has been revoked by its issuer.";
    MdocStatusListStale => "mdoc.status_list_stale", "Danh sách thu hồi đã lưu quá cũ nên chưa kiểm tra được tình trạng thu hồi; hãy cập nhật khi có mạng.", "The cached revocation list is too old, so revocation could not be checked; refresh it when online.";
    PresentationNoDocuments => "presentation.no_documents", "Ví chưa có giấy tờ để trình; hãy cập nhật giấy tờ khi có mạng.", "The wallet holds no document to present; refresh your documents when online.";
    VerifierNoTrustList => "verifier.no_trust_list", "Thiết bị kiểm tra chưa có danh sách tin cậy; hãy cập nhật khi có mạng.", "This verifier has no trust list yet; refresh it when online.";
    VerifierTrustListStale => "verifier.trust_list_stale", "Danh sách tin cậy đã lưu đã quá hạn cập nhật; hãy cập nhật khi có mạng.", "The cached trust list is past its update date; refresh it when online.";
    VerifierReaderCertificateInvalid => "verifier.reader_certificate_invalid", "Chứng thư thiết bị kiểm tra nhận từ máy chủ không khớp khoá của thiết bị này hoặc không thuộc danh sách tin cậy.", "The reader certificate received from the server does not hold this verifier's key or is not under the trust list.";
    VerifierListInvalid => "verifier.list_invalid", "Danh sách tin cậy hoặc danh sách thu hồi nhận từ máy chủ không hợp lệ.", "The trust list or revocation list received from the server is not valid.";
    // Losing, changing and re-binding the phone (issue 15).
    DeviceLocked => "auth.device_locked", "Thiết bị này đã bị khoá từ xa (báo mất). Hãy mở khoá tại cơ quan công an hoặc khôi phục tài khoản trên thiết bị mới; dữ liệu trên máy vẫn được giữ nguyên.", "This device was locked remotely (reported lost). Have it unlocked at a police office or recover the account on a new device; the data on this phone is kept.";
    OutboxHeld => "outbox.held", "Các hồ sơ chờ gửi đang được giữ lại cho đến khi bạn xác nhận gửi tiếp.", "The requests waiting to be sent are held until you confirm they should still be sent.";
    OutboxWithdrawn => "outbox.withdrawn", "Bạn đã quyết định không gửi hồ sơ này sau khi thiết bị được khôi phục.", "You decided not to send this request after the device was restored.";
    NothingHeld => "outbox.nothing_held", "Không có hồ sơ nào đang được giữ lại.", "No requests are being held.";
    RecoveryChipRequired => "recovery.chip_required", "Tài khoản định danh mức 2 chỉ khôi phục được trên thiết bị mới khi có mã OTP và đọc thẻ căn cước gắn chip.", "A level-2 account can be recovered on a new device only with the OTP and a read of the chip-based ID card.";
    RecoveryCounterRequired => "recovery.counter_required", "Tài khoản chưa có định danh mức 2: hãy đến cơ quan công an để khôi phục trên thiết bị mới.", "The account is not level 2: recover it on the new device at a police office.";
    RecoveryWaiting => "recovery.waiting", "Yêu cầu khôi phục đang trong thời gian chờ; thiết bị mới sẽ được kích hoạt khi hết thời gian này.", "The recovery is in its waiting period; the new device is activated when it ends.";
    RecoveryCancelled => "recovery.cancelled", "Yêu cầu khôi phục tài khoản đã bị huỷ.", "The account recovery was cancelled.";
    RecoveryUnknown => "recovery.unknown", "Không có yêu cầu khôi phục tài khoản nào đang chờ.", "There is no account recovery waiting.";
    RecoveryInProgress => "recovery.in_progress", "Đã có một yêu cầu khôi phục tài khoản đang chờ.", "An account recovery is already waiting.";
    RecoveryCancelInvalid => "recovery.cancel_invalid", "Yêu cầu huỷ khôi phục không được ký bằng khoá của thiết bị cũ.", "The recovery cancellation was not signed with the old device's key.";
    RecoveryReplayed => "recovery.replayed", "Yêu cầu này đã được dùng; hãy thực hiện lại từ đầu.", "This statement was already used; start again.";
    RebindProofInvalid => "rebind.proof_invalid", "Không xác minh được khoá mới của thiết bị; hãy thực hiện lại.", "The device's new key could not be verified; try again.";
    TransferCodeInvalid => "transfer.code_invalid", "Đây không phải mã chuyển thiết bị hợp lệ của máy chủ này.", "This is not a valid device-transfer code of this server.";
    NoPendingRebind => "rebind.no_pending", "Chưa có yêu cầu liên kết lại khoá nào đang chờ mã OTP.", "There is no key re-binding waiting for an OTP.";
    // Register corrections and enrichment (issue 16 item 1, decision 50).
    CorrectionValueInvalid => "correction.value_invalid", "Giá trị đề nghị không phù hợp với trường thông tin này.", "The proposed value does not fit this field of the record.";
    CorrectionUnchanged => "correction.unchanged", "Giá trị đề nghị trùng với thông tin đang có trong Cơ sở dữ liệu quốc gia về dân cư.", "The proposed value is what the population register already holds.";
    CorrectionAlreadyPending => "correction.already_pending", "Đã có một đề nghị điều chỉnh thông tin này đang chờ xử lý.", "A correction of this field is already waiting for a decision.";
    CorrectionEvidenceRequired => "correction.evidence_required", "Đề nghị điều chỉnh thông tin này cần kèm giấy tờ chứng minh.", "A correction of this field needs supporting evidence attached.";
    CorrectionNamedOfficialRequired => "correction.named_official_required", "Đề nghị điều chỉnh thông tin chỉ được cán bộ có thẩm quyền quyết định.", "A correction is decided only by an authorised, named official.";
    CorrectionUnknown => "correction.unknown", "Không tìm thấy đề nghị điều chỉnh thông tin này.", "No such correction request.";
    CorrectionNotPending => "correction.not_pending", "Đề nghị điều chỉnh đã được quyết định hoặc đang chờ công dân bổ sung.", "The correction was already decided or is waiting for the citizen's supplement.";
    RebindChipRequired => "rebind.chip_required", "Không còn phiên đăng nhập: hãy đọc thẻ căn cước gắn chip cùng mã OTP để liên kết lại khoá của thiết bị.", "There is no live session: read the chip-based ID card together with the OTP to re-bind the device key.";
    LockProofRequired => "lock.proof_required", "Để khoá thiết bị bị mất cần mã OTP gửi tới số điện thoại đã đăng ký hoặc đọc thẻ căn cước gắn chip; số định danh và ngày sinh thôi là không đủ.", "Locking a lost device needs the OTP sent to the registered phone or a read of the chip-based ID card; the ID number and date of birth alone are not enough.";
    LockUnknown => "lock.unknown", "Không có yêu cầu khoá thiết bị nào như vậy; hãy bắt đầu lại.", "There is no such device-lock request; start again.";
    LockReplayed => "lock.replayed", "Yêu cầu khoá thiết bị này đã được dùng; hãy bắt đầu lại nếu cần.", "This device-lock request was already used; start again if needed.";
    // Delegation: acting for a child or ward (issue 15 item 5, decision 49).
    DelegationOutOfScope => "delegation.out_of_scope", "Uỷ quyền đại diện không bao gồm thủ tục hoặc giấy tờ này.", "The mandate does not cover this procedure or document.";
    DelegationExpired => "delegation.expired", "Uỷ quyền đại diện đã hết hiệu lực (người được đại diện đã đủ 14 tuổi hoặc việc giám hộ đã chấm dứt).", "The mandate has ended (the dependant has turned 14 or the guardianship has ended).";
    DelegationRevoked => "delegation.revoked", "Uỷ quyền đại diện đã bị thu hồi.", "The mandate has been revoked.";
    DelegationNotDependant => "delegation.not_dependant", "Theo cơ sở dữ liệu dân cư, bạn không phải cha, mẹ hoặc người giám hộ của người này.", "According to the population register you are not this person's parent or guardian.";
    DelegationReplayed => "delegation.replayed", "Yêu cầu đại diện này đã được sử dụng.", "This on-behalf statement was already used.";
    DelegationMandateInvalid => "delegation.mandate_invalid", "Giấy uỷ quyền đại diện không do máy chủ định danh ký hoặc đã bị sửa đổi.", "The mandate is not signed by the identity server or has been altered.";
    DelegationUnknown => "delegation.unknown", "Không tìm thấy uỷ quyền đại diện này.", "This mandate was not found.";
    DelegationWrongHolder => "delegation.wrong_holder", "Giấy tờ được trình bằng khoá của thiết bị khác với thiết bị mà uỷ quyền đại diện chỉ định.", "The document was presented with a key other than the device key the mandate names.";
    Internal => "internal", "Đã xảy ra lỗi không mong muốn.", "An unexpected error occurred.";
}

impl Msg {
    /// The public detail record.
    pub fn detail(self) -> ErrorDetail {
        ErrorDetail {
            code: self.code().to_string(),
            message_vi: self.vi().to_string(),
            message_en: self.en().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_codes_are_unique_and_both_languages_present() {
        let mut seen = std::collections::HashSet::new();
        for m in Msg::all() {
            assert!(seen.insert(m.code()), "duplicate code {}", m.code());
            assert!(!m.vi().is_empty() && !m.en().is_empty());
            assert_ne!(m.vi(), m.en(), "{} not translated", m.code());
        }
    }
}
