//! Load shedding: what an anonymous client may cost the server (ARCHITECTURE.md, "Load
//! shedding").
//!
//! * [`ClientAddr`] names the client by its peer address (IPv6 by its /64, the block one
//!   subscriber gets), from axum's `ConnectInfo`.
//! * [`ClientQuota`] bounds the live anonymous state (portal login sessions, demo-bank share
//!   requests) one client and all clients may hold: a flooder gets 429 with `Retry-After` once
//!   its own share is used up, while the others keep getting sessions.
//! * [`layers`] wraps the router: a global in-flight cap that sheds at once (503, no queue), a
//!   whole-request timeout (408), and admission of large submission bodies (per client and
//!   globally), so that 32 anonymous 12 MiB uploads cannot take hundreds of MiB.
//!
//! Connection-level limits (TLS handshake, header-read/idle timeouts) are set on the acceptor
//! and the HTTP builder in [`crate::start`].

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{BoxError, Router};
use citizen_protocol::protocol::codes;
use tokio::sync::Semaphore;
use tower::ServiceBuilder;

use crate::api::ApiError;
use crate::config::ShedLimits;

/// Who is asking, for per-client quotas: the peer's IPv4 address, or the /64 of its IPv6
/// address (an IPv4-mapped IPv6 peer counts as its IPv4 address).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The key of a peer address.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    ClientKey(IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0)))
                }
            },
            v4 => ClientKey(v4),
        }
    }

    /// One shared key for requests that carry no peer address (a router driven without a
    /// socket, as unit tests do): they share one quota.
    pub fn unknown() -> Self {
        ClientKey(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }
}

/// Extractor of the client's [`ClientKey`]; never rejects.
///
/// Behind a reverse proxy every request comes from the proxy's address, so the per-client
/// quotas become one shared quota: the proxy must then apply its own per-client limits (the
/// server does not trust `X-Forwarded-For`, which any client can send).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub ClientKey);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_of(&parts.extensions)))
    }
}

fn client_of(ext: &axum::http::Extensions) -> ClientKey {
    ext.get::<ConnectInfo<SocketAddr>>().map(|ci| ClientKey::of(ci.0.ip())).unwrap_or_else(ClientKey::unknown)
}

/// Why a quota refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaRefusal {
    /// This client holds its share; retry after this many seconds (its oldest entry expires).
    Client(u64),
    /// Everyone together holds the global cap; retry after this many seconds.
    Global(u64),
}

impl QuotaRefusal {
    /// 429 (this client) or 503 (the server is full), both with `Retry-After`.
    pub fn into_error(self, what: &str) -> ApiError {
        match self {
            QuotaRefusal::Client(secs) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                codes::RATE_LIMITED,
                format!("too many {what} from this address"),
            )
            .with_retry_after(secs.max(1)),
            QuotaRefusal::Global(secs) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, codes::RATE_LIMITED, format!("too many {what}"))
                    .with_retry_after(secs.max(1))
            }
        }
    }
}

#[derive(Default)]
struct QuotaState {
    /// Expiry times (Unix seconds) of each client's live entries, oldest first.
    clients: HashMap<ClientKey, VecDeque<i64>>,
    live: usize,
    /// Earliest expiry across all clients (a full sweep is due then).
    next_sweep: i64,
}

/// Live anonymous entries (sessions, requests) per client and in all, each held until it
/// expires. Memory is bounded by `total` (a client appears only while it holds an entry).
pub struct ClientQuota {
    per_client: usize,
    total: usize,
    state: Mutex<QuotaState>,
}

impl ClientQuota {
    /// A quota of `per_client` live entries per client and `total` in all.
    pub fn new(per_client: usize, total: usize) -> Self {
        ClientQuota { per_client: per_client.max(1), total, state: Mutex::new(QuotaState::default()) }
    }

    /// Take one entry for `client` living until `expires_at`, or say who is full.
    pub fn acquire(&self, client: ClientKey, now: i64, expires_at: i64) -> Result<(), QuotaRefusal> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let st = &mut *guard;
        if now >= st.next_sweep || st.live >= self.total {
            Self::sweep(st, now);
        }
        let retry = |e: i64| (e - now).max(1).unsigned_abs();
        let mut live = st.live;
        let q = st.clients.entry(client).or_default();
        while q.front().is_some_and(|e| *e <= now) {
            q.pop_front();
            live -= 1;
        }
        if q.len() >= self.per_client {
            let r = retry(*q.front().expect("per_client >= 1 and the queue is full"));
            st.live = live;
            return Err(QuotaRefusal::Client(r));
        }
        if live >= self.total {
            if q.is_empty() {
                st.clients.remove(&client);
            }
            st.live = live;
            let r = retry(st.next_sweep);
            return Err(QuotaRefusal::Global(r));
        }
        q.push_back(expires_at);
        st.live = live + 1;
        st.next_sweep = st.next_sweep.min(expires_at);
        Ok(())
    }

    /// Live entries in all.
    pub fn live(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).live
    }

    fn sweep(st: &mut QuotaState, now: i64) {
        let mut live = 0;
        let mut next = i64::MAX;
        st.clients.retain(|_, q| {
            while q.front().is_some_and(|e| *e <= now) {
                q.pop_front();
            }
            live += q.len();
            if let Some(e) = q.front() {
                next = next.min(*e);
            }
            !q.is_empty()
        });
        st.live = live;
        st.next_sweep = next;
    }
}

/// Admission of large request bodies (submissions): at most `per_client` in flight per client
/// (beyond: 429 at once) and `global` in all (beyond: wait for a slot, within the request
/// timeout). Memory held by bodies is then bounded by `global × max_submission_bytes` (and the
/// parsed copy), whoever sends them.
pub struct BodyAdmission {
    /// A body announced (`Content-Length`) at most this large is admitted like any other
    /// route's: hyper reads no more than announced, so it cannot grow, and a small honest
    /// submission does not queue behind large uploads.
    small_bytes: u64,
    per_client: usize,
    in_flight: Mutex<HashMap<ClientKey, usize>>,
    global: Arc<Semaphore>,
}

struct ClientSlot<'a> {
    admission: &'a BodyAdmission,
    client: ClientKey,
}

impl Drop for ClientSlot<'_> {
    fn drop(&mut self) {
        let mut m = self.admission.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.client);
            }
        }
    }
}

impl BodyAdmission {
    fn new(small_bytes: usize, per_client: usize, global: usize) -> Self {
        BodyAdmission {
            small_bytes: small_bytes as u64,
            per_client,
            in_flight: Mutex::new(HashMap::new()),
            global: Arc::new(Semaphore::new(global)),
        }
    }

    fn client_slot(&self, client: ClientKey) -> Option<ClientSlot<'_>> {
        let mut m = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(client).or_insert(0);
        if *n >= self.per_client {
            return None;
        }
        *n += 1;
        Some(ClientSlot { admission: self, client })
    }
}

/// Routes whose bodies may be large (everything else is capped at `max_body_bytes`).
fn is_large_body(req: &Request) -> bool {
    req.method() == Method::POST && req.uri().path() == citizen_protocol::protocol::services::PATH_SUBMISSIONS
}

async fn admit_large_bodies(State(adm): State<Arc<BodyAdmission>>, req: Request, next: Next) -> Response {
    let announced =
        req.headers().get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if !is_large_body(&req) || announced.is_some_and(|n| n <= adm.small_bytes) {
        return next.run(req).await;
    }
    let client = client_of(req.extensions());
    let Some(_slot) = adm.client_slot(client) else {
        return ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            codes::RATE_LIMITED,
            "too many submissions in flight from this address",
        )
        .with_retry_after(1)
        .into_response();
    };
    // Waiting costs nothing but the connection: the body is not read before the slot is ours.
    let Ok(_permit) = adm.global.clone().acquire_owned().await else {
        return ApiError::internal().into_response();
    };
    next.run(req).await
}

async fn overloaded(_: BoxError) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, codes::RATE_LIMITED, "server busy").with_retry_after(1)
}

/// 408 with the protocol's JSON error body (tower-http's timeout answers an empty body).
async fn timeout_body(resp: Response) -> Response {
    if resp.status() == StatusCode::REQUEST_TIMEOUT && resp.headers().get(axum::http::header::CONTENT_TYPE).is_none() {
        return ApiError::new(StatusCode::REQUEST_TIMEOUT, codes::INVALID_REQUEST, "request took too long")
            .into_response();
    }
    resp
}

/// Wrap the router with the request-level limits: from the outside, a global in-flight cap that
/// sheds (503 + `Retry-After`), a whole-request timeout (408) and large-body admission.
pub fn layers(router: Router, limits: &ShedLimits) -> Router {
    let admission = Arc::new(BodyAdmission::new(
        limits.max_body_bytes,
        limits.submissions_per_client.max(1),
        limits.submissions_in_flight.max(1),
    ));
    router
        .layer(axum::middleware::from_fn_with_state(admission, admit_large_bodies))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(limits.request_timeout_secs.max(1)),
        ))
        .layer(axum::middleware::map_response(timeout_body))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(overloaded))
                .load_shed()
                .layer(tower::limit::GlobalConcurrencyLimitLayer::new(limits.max_in_flight.max(1))),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> ClientKey {
        ClientKey::of(s.parse().unwrap())
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_mapped_v4_as_v4() {
        assert_eq!(ip("2001:db8:1:2:aaaa::1"), ip("2001:db8:1:2:bbbb::2"));
        assert_ne!(ip("2001:db8:1:2::1"), ip("2001:db8:1:3::1"));
        assert_eq!(ip("::ffff:192.0.2.7"), ip("192.0.2.7"));
        assert_ne!(ip("192.0.2.7"), ip("192.0.2.8"));
    }

    #[test]
    fn quota_limits_each_client_then_everyone_and_frees_on_expiry() {
        let q = ClientQuota::new(2, 3);
        let (a, b, c) = (ip("192.0.2.1"), ip("192.0.2.2"), ip("192.0.2.3"));
        assert_eq!(q.acquire(a, 100, 110), Ok(()));
        assert_eq!(q.acquire(a, 101, 120), Ok(()));
        assert_eq!(q.acquire(a, 102, 130), Err(QuotaRefusal::Client(8)), "a's oldest ends at 110");
        assert_eq!(q.acquire(b, 102, 130), Ok(()), "another client still gets one");
        assert_eq!(q.acquire(c, 103, 130), Err(QuotaRefusal::Global(7)), "everyone holds the cap");
        assert_eq!(q.live(), 3);
        // a's first entry expires: a and c get one each as room frees.
        assert_eq!(q.acquire(c, 110, 140), Ok(()));
        assert_eq!(q.acquire(a, 121, 150), Ok(()), "a's second entry ended at 120");
        assert_eq!(q.live(), 3);
        // Everything expires: nothing is held, the map is empty after a sweep.
        assert_eq!(q.acquire(a, 1000, 1010), Ok(()));
        assert_eq!(q.live(), 1);
        assert_eq!(q.state.lock().unwrap().clients.len(), 1);
    }

    #[test]
    fn body_admission_counts_per_client_and_releases() {
        let adm = BodyAdmission::new(1024, 2, 4);
        let a = ip("192.0.2.1");
        let s1 = adm.client_slot(a).unwrap();
        let _s2 = adm.client_slot(a).unwrap();
        assert!(adm.client_slot(a).is_none());
        assert!(adm.client_slot(ip("192.0.2.2")).is_some());
        drop(s1);
        assert!(adm.client_slot(a).is_some());
    }
}
