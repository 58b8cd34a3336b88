//! `OutboxObserver`: the shell's window on the outbox. The core calls it whenever an item
//! changes state (queued → sending → delivered / rejected, or back to queued to wait), so the
//! UI can show progress without polling.

/// Errors an observer reports (they are logged and otherwise ignored: an observer can never
/// stop a delivery).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum ObserverError {
    /// The observer failed.
    #[error("observer failed")]
    Failed {
        /// What went wrong (logged, never shown).
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for ObserverError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        ObserverError::Failed { reason: e.reason }
    }
}

/// Receives outbox progress. Called from a background thread; keep it short and hop to the UI
/// thread yourself.
#[uniffi::export(foreign)]
pub trait OutboxObserver: Send + Sync {
    /// An item changed.
    fn on_outbox_item(&self, item: super::services::OutboxItem) -> Result<(), ObserverError>;
}
