//! Rust key stores for desktop, kiosk and tests.
