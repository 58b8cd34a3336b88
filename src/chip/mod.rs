//! Level 2 from the chip, on the device (issue 12, ARCHITECTURE.md decision 30).
//!
//! [`Account::upgrade_with_chip`]: an enrolled, logged-in device asks the server for a chip
//! nonce (`POST /v1/chip/challenge`, which also answers the server's CSCA list), drives the
//! sans-I/O reader of `citizen-chip` over the shell's [`ApduTransport`] — PACE with the CAN (or
//! the MRZ), secure messaging, chip authentication, passive authentication against the server's
//! CSCA list, and **active authentication over a challenge derived from the server's nonce** —
//! then uploads EF.SOD, DG1, DG13, DG14, DG15 and the chip's signature in a statement of
//! purpose `chip` signed by the device key (subject = digest of the files). DG2 (the face) and
//! DG3 are not read: the server does no face matching.
//!
//! Nothing is stored half-way: the chip's files live in memory for the length of the call and
//! are dropped (zeroised) whether the upgrade succeeds or not. What the device keeps afterwards
//! is what the account needs: the PID credential, fetched again so that it states level 2
//! (sealed, as before), and an activity-log entry `level_upgrade` (no personal data: the
//! summary is `level=2`).

mod flow;

pub(crate) use flow::{wipe_evidence, ChipFlowError, ProgressSink};
