//! Accepting connections, with the bounds that keep slow or idle clients from holding the server: a cap on open
//! connections, and timeouts for a request's head, its body, and an answer nobody reads.
//!
//! `axum::serve` has none of these (no header-read timeout, no cap), so 1,100 slow or idle connections made
//! the service unresponsive without authenticating. This is the same hyper HTTP/1 server with the bounds set:
//!
//! - **cap**: a connection over [`ConnectionLimits::max_connections`] is closed as soon as it is accepted, so
//!   a flood cannot take the slots of clients already connected (nor the process's file descriptors);
//! - **head**: hyper's `header_read_timeout`, counted from when the connection opened or the previous answer
//!   was sent, so a half-sent head and an idle keep-alive connection are both closed after it;
//! - **body**: [`TimedBody`] fails a body that has not fully arrived within the timeout of its head;
//! - **idle**: [`Stalled`] fails a connection whose client accepts no bytes for the timeout while the server
//!   has an answer to write (a client that stopped reading).
//!
//! - **HTTP/2** (the gRPC port): the same cap and per-address share, hyper's HTTP/2 with a stream limit per
//!   connection, pings for vanished peers, and a connection with nothing in flight for
//!   [`ConnectionLimits::h2_idle_timeout`] closed gracefully (GOAWAY).
//!
//! Every request carries `ConnectInfo<SocketAddr>` of its peer. On shutdown no new connection is accepted,
//! idle ones close, and requests in flight get [`serve`]'s `grace` to finish before their connections are
//! dropped.

use crate::config::ConnectionLimits;
use axum::extract::ConnectInfo;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Sleep;

/// Which HTTP a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1: the API, the pages, `/v2` and `/metrics`.
    Http1,
    /// HTTP/2 over cleartext with prior knowledge (h2c), as gRPC clients speak it.
    Http2,
}

/// Streams one HTTP/2 connection may have open at once. gRPC clients multiplex a channel's calls over one
/// connection; the gRPC service also counts every stream against the process's and the address's caps (see
/// `v2::grpc`), so more streams per connection would not let one client hold more.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 64;

/// The connection slots of the process, shared by all its listeners: file descriptors are one pool, and a
/// client must not get twice its share by using both ports.
#[derive(Clone)]
pub struct Gate {
    slots: Arc<Semaphore>,
    max_connections: usize,
    per_address: PerAddress,
}

impl Gate {
    /// The gate for `limits`, its cap lowered to what the open-files limit allows.
    pub fn new(limits: &ConnectionLimits) -> Self {
        let max_connections = descriptors_for(limits.max_connections);
        Self {
            slots: Arc::new(Semaphore::new(max_connections)),
            max_connections,
            per_address: PerAddress::default(),
        }
    }
}

/// Serves `service` on `listener` in `protocol` until `shutdown` completes; then stops accepting, lets
/// requests in flight finish for at most `grace`, and drops the connections still open.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    protocol: Protocol,
    gate: Gate,
    limits: ConnectionLimits,
    grace: Duration,
    shutdown: impl Future<Output = ()>,
) where
    S: tower_service::Service<hyper::Request<TimedBody>, Response = hyper::Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (closing, closed) = tokio::sync::watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Reap finished connections so the set does not grow with every connection ever served.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // E.g. out of file descriptors: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // One address may hold only its share, so a flood from one client cannot take every slot
        // from the others (a monitor, a vendor, an advisor).
        let Some(own) = gate.per_address.enter(peer.ip(), limits.max_connections_per_address) else {
            tracing::debug!(%peer, cap = limits.max_connections_per_address, "over the per-address cap: closed");
            drop(stream);
            continue;
        };
        let Ok(slot) = gate.slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, cap = gate.max_connections, "over the connection cap: closed");
            drop(stream);
            continue;
        };
        // Without it a small answer waits for the client's delayed ACK (40 ms on Linux).
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let closed = closed.clone();
        connections.spawn(async move {
            let _slot = (slot, own);
            let activity = Arc::new(Activity::default());
            let body_timeout = limits.body_timeout;
            let counted = activity.clone();
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let mut req = req.map(|body| TimedBody::new(body, body_timeout));
                req.extensions_mut().insert(ConnectInfo(peer));
                let busy = counted.begin();
                let call = service.clone().call(req);
                async move {
                    // In flight until its answer has been sent, not only until it was made: an
                    // answer a client will not take (HTTP/2 flow control) is what the stall check
                    // looks for.
                    let answer = call.await?;
                    let unsent = busy.answered();
                    Ok::<_, Infallible>(answer.map(|body| Holding::new(body, unsent)))
                }
            });
            let io = TokioIo::new(Stalled::new(stream, limits.idle_timeout));
            match protocol {
                Protocol::Http1 => {
                    let mut builder = http1::Builder::new();
                    builder
                        .timer(TokioTimer::new())
                        .header_read_timeout(limits.header_timeout)
                        .keep_alive(true);
                    // hyper closes an idle keep-alive connection itself (the head timeout), and `Stalled` one
                    // whose client stopped reading.
                    let never = std::future::pending::<Quiet>();
                    drive(builder.serve_connection(io, service), closed, peer, never).await;
                }
                Protocol::Http2 => {
                    let mut builder = http2::Builder::new(TokioExecutor::new());
                    builder
                        .timer(TokioTimer::new())
                        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
                        .max_header_list_size(16 << 10)
                        // A peer that vanished without closing is found by pings.
                        .keep_alive_interval(Some(Duration::from_secs(30)))
                        .keep_alive_timeout(Duration::from_secs(20));
                    let idle = activity.idle_for(limits.h2_idle_timeout, limits.idle_timeout);
                    drive(builder.serve_connection(io, service), closed, peer, idle).await;
                }
            }
        });
    }
    drop(listener);
    let _ = closing.send(true);
    let open = connections.len();
    if tokio::time::timeout(grace, async { while connections.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        tracing::warn!(
            connections = connections.len(),
            of = open,
            grace_secs = grace.as_secs_f64(),
            "requests still in flight after the shutdown grace: dropped"
        );
    }
    connections.shutdown().await;
}

/// A served connection of either protocol, which can be asked to finish what is in flight and close.
trait Graceful: Future<Output = hyper::Result<()>> {
    fn close(self: Pin<&mut Self>);
}

impl<I, S, B> Graceful for http1::Connection<I, S>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn close(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, B, E> Graceful for http2::Connection<I, S, E>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    fn close(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Runs `conn` until it ends. On shutdown, or once `idle` says the connection has been idle, lets it
/// finish the requests in flight and close, for at most [`CLOSE_WAIT`] (a client that takes no answer
/// must not hold the close open); once `idle` says answers have waited too long to be taken, drops it.
async fn drive(
    conn: impl Graceful,
    mut closed: tokio::sync::watch::Receiver<bool>,
    peer: std::net::SocketAddr,
    idle: impl Future<Output = Quiet>,
) {
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            return;
        }
        // The watch's guard must not be held across the await below (it is not `Send`).
        () = async { let _ = closed.wait_for(|c| *c).await; } => {}
        quiet = idle => match quiet {
            Quiet::Idle => tracing::debug!(%peer, "idle HTTP/2 connection: closed"),
            Quiet::Stalled => {
                tracing::debug!(%peer, "answers were not taken within the idle timeout: connection dropped");
                return;
            }
        },
    }
    conn.as_mut().close();
    if tokio::time::timeout(CLOSE_WAIT, conn).await.is_err() {
        tracing::debug!(%peer, "the connection did not close within {CLOSE_WAIT:?}: dropped");
    }
}

/// Longest a connection asked to close may take to finish what is in flight (on shutdown the grace
/// bounds it further).
const CLOSE_WAIT: Duration = Duration::from_secs(30);

/// Why an HTTP/2 connection is ended from the server's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quiet {
    /// Nothing in flight for the idle limit: close it gracefully.
    Idle,
    /// Answers made and not taken, and none taken meanwhile, for the stall limit: drop it.
    Stalled,
}

/// Requests in flight on one connection, answers made but not yet sent, and when the last one ended. An
/// HTTP/2 connection (a gRPC channel) with nothing in flight for the idle limit is closed, so idle channels
/// cannot hold the process's slots; one whose answers are not taken (a client that keeps its flow-control
/// window shut while it answers pings, which `Stalled` cannot see) is dropped.
#[derive(Default)]
struct Activity {
    in_flight: std::sync::atomic::AtomicUsize,
    /// Answers made whose bodies have not ended.
    unsent: std::sync::atomic::AtomicUsize,
    /// Milliseconds since `created` when a request was answered or an answer was sent (progress).
    last_end_ms: std::sync::atomic::AtomicU64,
    created: OnceInstant,
}

/// `Instant::now()` at construction (`Instant` has no `Default`).
struct OnceInstant(std::time::Instant);

impl Default for OnceInstant {
    fn default() -> Self {
        Self(std::time::Instant::now())
    }
}

/// One request in flight, counted until it is answered (or dropped).
struct Busy(Arc<Activity>);

/// One answer made and not yet sent, counted until its body ends or is dropped.
struct Unsent(Arc<Activity>);

impl Activity {
    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Busy(self.clone())
    }

    /// One of `count` ended: a mark of progress.
    fn ended(&self, count: &std::sync::atomic::AtomicUsize) {
        use std::sync::atomic::Ordering::SeqCst;
        self.last_end_ms.store(self.now_ms(), SeqCst);
        count.fetch_sub(1, SeqCst);
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.created.0.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Completes with [`Quiet::Idle`] once nothing has been in flight for `idle`, or with
    /// [`Quiet::Stalled`] once answers have waited to be taken for `stall` with none taken meanwhile.
    async fn idle_for(self: Arc<Self>, idle: Duration, stall: Duration) -> Quiet {
        use std::sync::atomic::Ordering::SeqCst;
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
        let (idle_ms, stall_ms) = (ms(idle), ms(stall));
        loop {
            let quiet = self.now_ms().saturating_sub(self.last_end_ms.load(SeqCst));
            let wait_ms = if self.unsent.load(SeqCst) > 0 {
                if quiet >= stall_ms {
                    return Quiet::Stalled;
                }
                stall_ms - quiet
            } else if self.in_flight.load(SeqCst) > 0 {
                idle_ms.min(stall_ms)
            } else {
                if quiet >= idle_ms {
                    return Quiet::Idle;
                }
                idle_ms - quiet
            };
            // Looked at again at least every second: a request may arrive, or an answer stall, while
            // this sleeps.
            tokio::time::sleep(Duration::from_millis(wait_ms.min(1000))).await;
        }
    }
}

impl Busy {
    /// The request has its answer: counted as unsent until the answer's body ends.
    fn answered(self) -> Unsent {
        use std::sync::atomic::Ordering::SeqCst;
        let activity = self.0.clone();
        activity.unsent.fetch_add(1, SeqCst);
        drop(self);
        Unsent(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.ended(&self.0.in_flight);
    }
}

impl Drop for Unsent {
    fn drop(&mut self) {
        self.0.ended(&self.0.unsent);
    }
}

/// A body that holds `guard` until it has ended or is dropped: a slot or a count that must last until
/// the answer is sent, not only until it was made.
pub struct Holding<B, G> {
    inner: B,
    guard: Option<G>,
}

impl<B, G> Holding<B, G> {
    pub fn new(inner: B, guard: G) -> Self {
        Self {
            inner,
            guard: Some(guard),
        }
    }
}

impl<B: hyper::body::Body + Unpin, G: Unpin> hyper::body::Body for Holding<B, G> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if frame.is_none() {
            self.guard = None;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that must have fully arrived within a deadline set when its head was read; past it, reading
/// fails (the handler answers 400 or 413 as for any broken body, and the connection is not reused).
pub struct TimedBody {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
    limit: Duration,
}

impl TimedBody {
    fn new(inner: Incoming, limit: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(limit)),
            limit,
        }
    }
}

/// The body did not arrive within the body timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimeout(Duration);

impl hyper::body::Body for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        ready!(this.deadline.as_mut().poll(cx));
        Poll::Ready(Some(Err(Box::new(BodyTimeout(this.limit)))))
    }

    fn is_end_stream(&self) -> bool {
        hyper::body::Body::is_end_stream(&self.inner)
    }

    fn size_hint(&self) -> SizeHint {
        hyper::body::Body::size_hint(&self.inner)
    }
}

/// A TCP stream whose writes fail with `TimedOut` once they have made no progress for `limit`: the client has
/// stopped reading an answer. Reads pass through (the head and body timeouts bound those).
pub struct Stalled {
    io: TcpStream,
    limit: Duration,
    /// Running while a write is blocked.
    since: Option<Pin<Box<Sleep>>>,
}

impl Stalled {
    fn new(io: TcpStream, limit: Duration) -> Self {
        Self { io, limit, since: None }
    }

    /// Turns a blocked write into an error once it has been blocked for `limit`.
    fn check<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match r {
            Poll::Ready(r) => {
                self.since = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let limit = self.limit;
                let timer = self.since.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("the client accepted no bytes for {limit:?}"),
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncRead for Stalled {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stalled {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.check(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.check(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        self.check(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_shutdown(cx);
        self.check(cx, r)
    }
}

/// Open connections per client address (IPv6 by its /64, which one client usually holds whole).
#[derive(Clone, Default)]
pub(crate) struct PerAddress(Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>);

/// One connection counted against its address until dropped.
pub(crate) struct AddressSlot {
    table: PerAddress,
    key: std::net::IpAddr,
}

impl PerAddress {
    fn key(ip: std::net::IpAddr) -> std::net::IpAddr {
        match ip {
            std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => std::net::IpAddr::V4(v4),
                None => std::net::IpAddr::V6(std::net::Ipv6Addr::from_bits(v6.to_bits() & !((1u128 << 64) - 1))),
            },
            v4 => v4,
        }
    }

    /// A slot for one more connection from `ip`, unless it already holds `cap`.
    pub(crate) fn enter(&self, ip: std::net::IpAddr, cap: usize) -> Option<AddressSlot> {
        let key = Self::key(ip);
        let mut map = self.0.lock().ok()?;
        let n = map.entry(key).or_insert(0);
        if *n >= cap.max(1) {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            table: self.clone(),
            key,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Ok(mut map) = self.table.0.lock()
            && let Some(n) = map.get_mut(&self.key)
        {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// Descriptors kept for everything but connections: the database, blobs, workers' pipes.
const RESERVED_DESCRIPTORS: u64 = 256;

/// Raises the soft open-files limit to the hard one (a service's soft limit is often 1,024, fewer
/// than its connection cap), and returns the connection cap that fits under it: past the limit
/// `accept` would fail for everyone, so the cap must hit first.
fn descriptors_for(wanted: usize) -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write one valid rlimit that outlives the calls.
    let soft = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return wanted.max(1);
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
        limit.rlim_cur
    };
    let fits = usize::try_from(soft.saturating_sub(RESERVED_DESCRIPTORS)).unwrap_or(usize::MAX);
    if fits < wanted {
        tracing::warn!(
            wanted,
            open_files = soft,
            cap = fits.max(1),
            "the connection cap is lowered to fit the open-files limit (raise `ulimit -n` for more)"
        );
    }
    wanted.min(fits).max(1)
}

#[cfg(test)]
mod per_address_tests {
    use super::PerAddress;
    use std::net::IpAddr;

    #[test]
    fn an_address_holds_at_most_its_cap_and_gets_slots_back_when_they_close() {
        let t = PerAddress::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let held: Vec<_> = (0..3).map(|_| t.enter(a, 3).expect("under the cap")).collect();
        assert!(t.enter(a, 3).is_none(), "a fourth from the same address is refused");
        assert!(t.enter(b, 3).is_some(), "another address is not affected");
        drop(held);
        assert!(t.enter(a, 3).is_some(), "closed connections give their slots back");
        let v6a: IpAddr = "2001:db8::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8::2".parse().unwrap();
        let _one = t.enter(v6a, 1).unwrap();
        assert!(t.enter(v6b, 1).is_none(), "one /64 is one client");
    }
}
