//! The wire protocol, from the sans-I/O protocol crate ([`citizen_protocol::protocol`]):
//! re-exported under its old path, with the UniFFI declarations of the services types the core
//! exports unchanged (the ones whose wire shape is not a platform type — timestamps, unsigned
//! counts, `sex` — are exported in converted form from `ffi/types.rs`).

pub use citizen_protocol::protocol::*;

/// Public-services wire format ([`citizen_protocol::protocol::services`]).
pub mod services {
    pub use citizen_protocol::protocol::services::*;

    // UniFFI declarations of the protocol crate's services records and enums that the core
    // exports as they are (no timestamps, no unsigned counts). `citizen-protocol` has no UniFFI dependency, so their foreign-language interface is
    // declared here with `#[uniffi::remote(..)]`: the definitions mirror the protocol crate's (same
    // fields in the same order, which the compiler checks; the docstrings here are the ones the
    // bindings carry) and generate the FFI code for this crate's UniFFI tag. They sit in the module
    // the types were defined in before the split (UniFFI's checksums include it), so the bindings are
    // unchanged and stay in the one `citizen_core` module.

    /// Kinds of eForm fields.
    #[uniffi::remote(Enum)]
    pub enum FieldKind {
        /// One line of text.
        Text,
        /// Several lines.
        Multiline,
        /// `YYYY-MM-DD`.
        Date,
        /// Vietnamese mobile number.
        Phone,
        /// 12-digit CCCD number (same rules as enrollment).
        Cccd,
        /// E-mail address.
        Email,
        /// One of `options`.
        Select,
        /// A province code from the bundled 2025 list (34 provinces).
        Province,
        /// A commune/ward code of the province in field `province_field`.
        Commune,
        /// Non-negative integer.
        Number,
        /// `true` / `false`.
        Boolean,
        /// A repeated group of `fields` (values at paths `key.<index>.<subkey>`).
        Group,
    }

    /// An option of a select field.
    #[uniffi::remote(Record)]
    pub struct OptionSpec {
        /// Stored value.
        pub value: String,
        /// Vietnamese label.
        pub label_vi: String,
        /// English label.
        pub label_en: String,
    }

    /// Show a field only when another field has one of some values.
    #[uniffi::remote(Record)]
    pub struct Condition {
        /// Key of the controlling field (same level).
        pub field: String,
        /// The field is visible when the controlling value is one of these.
        pub any_of: Vec<String>,
    }
}
