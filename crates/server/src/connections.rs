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
//! Every request carries `ConnectInfo<SocketAddr>` of its peer. On shutdown no new connection is accepted,
//! idle ones close, and requests in flight get [`serve`]'s `grace` to finish before their connections are
//! dropped.

use crate::config::ConnectionLimits;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
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
use tower_service::Service as _;

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting, lets requests in flight finish
/// for at most `grace`, and drops the connections still open.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    grace: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let max_connections = descriptors_for(limits.max_connections);
    let slots = Arc::new(Semaphore::new(max_connections));
    let per_address = PerAddress::default();
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
        let Some(own) = per_address.enter(peer.ip(), limits.max_connections_per_address) else {
            tracing::debug!(%peer, cap = limits.max_connections_per_address, "over the per-address cap: closed");
            drop(stream);
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, cap = max_connections, "over the connection cap: closed");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut closed = closed.clone();
        connections.spawn(async move {
            let _slot = (slot, own);
            let body_timeout = limits.body_timeout;
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let mut req = req.map(|body| TimedBody::new(body, body_timeout));
                req.extensions_mut().insert(ConnectInfo(peer));
                app.clone().call(req)
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(Stalled::new(stream, limits.idle_timeout)), service);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                }
                // The watch's guard must not be held across the await below (it is not `Send`).
                () = async { let _ = closed.wait_for(|c| *c).await; } => {
                    // Finishes the request in flight, if any, then closes.
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
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
struct PerAddress(Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>);

/// One connection counted against its address until dropped.
struct AddressSlot {
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
    fn enter(&self, ip: std::net::IpAddr, cap: usize) -> Option<AddressSlot> {
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
