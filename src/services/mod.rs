//! Public-service requests: the eForm engine (sans-I/O), the outbox policy (sans-I/O), their
//! storage, and the flows that tie them to the network.

pub mod eform;
pub mod flows;
pub mod outbox;
pub mod storage;
