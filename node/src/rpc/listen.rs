//! The HTTP/1.1 accept loop of the RPC server.
//!
//! `axum::serve` sets no header-read timeout, so a client that opens connections and
//! trickles header bytes (slowloris) would hold them forever. This loop serves each
//! connection with hyper directly: a connection whose request headers do not arrive
//! within [`ConnLimits::header_read_timeout`] is closed, one whose responses the client
//! stops taking for [`ConnLimits::write_stall_timeout`] is closed, and connections
//! beyond [`ConnLimits::max_connections`] (or [`ConnLimits::max_connections_per_ip`]
//! from one address) are closed at once. Body size, batch size,
//! concurrency and the request deadline stay with the router (`server.rs`).

use std::sync::Arc;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::time::Duration;

/// Connection-level limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Time a connection has to deliver a request's headers; then it is closed.
    /// Default 10 s.
    pub header_read_timeout: Duration,
    /// Open connections served at once; more are closed as they arrive. Default 1024.
    pub max_connections: usize,
    /// Open connections from one IP address (loopback excepted: local tools and load
    /// generators); more from it are closed as they arrive. One client cannot take every
    /// connection, nor (each connection holding at most one request) every request
    /// slot with bodies or responses it trickles. Default 64.
    pub max_connections_per_ip: usize,
    /// On shutdown, how long requests in flight may take to finish. Default 10 s.
    pub shutdown_grace: Duration,
    /// How long a response may wait for the client to take any of it: a connection
    /// whose writes make no progress for this long (a client that does not read) is
    /// closed, freeing its slot and its buffered response. Default 30 s.
    pub write_stall_timeout: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_connections_per_ip: 64,
            shutdown_grace: Duration::from_secs(10),
            write_stall_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` until `stop` fires (or its sender is dropped), then lets
/// requests in flight finish for up to `limits.shutdown_grace`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    stop: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip = PerIp::new(limits.max_connections_per_ip);
    let mut stop = std::pin::pin!(stop);
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "rpc: accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(
                max = limits.max_connections,
                "rpc: connection limit reached, closing a new connection"
            );
            continue;
        };
        let Some(ip_slot) = per_ip.take(peer.ip()) else {
            tracing::warn!(
                ip = %peer.ip(),
                max = limits.max_connections_per_ip,
                "rpc: per-address connection limit reached, closing a new connection"
            );
            continue;
        };
        let _ = stream.set_nodelay(true);
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let stream = StallTimeout::new(stream, limits.write_stall_timeout);
        let conn =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
            drop(ip_slot);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!("rpc: requests still in flight at shutdown were cut off");
        }
    }
}

/// A stream whose writes fail with `TimedOut` once they have made no progress for
/// `limit` (reads pass through): hyper has no write timeout, and a client that never
/// reads would otherwise hold its connection and response forever.
struct StallTimeout<S> {
    inner: S,
    limit: Duration,
    /// Running while a write or flush is pending.
    stalled: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<S> StallTimeout<S> {
    fn new(inner: S, limit: Duration) -> Self {
        StallTimeout {
            inner,
            limit,
            stalled: None,
        }
    }

    /// After the inner stream answered `r` to a write or flush: progress resets the
    /// clock, no progress starts it (or finds it expired).
    fn watch<T>(
        &mut self,
        cx: &mut std::task::Context<'_>,
        r: std::task::Poll<std::io::Result<T>>,
    ) -> std::task::Poll<std::io::Result<T>> {
        use std::future::Future;
        if r.is_ready() {
            self.stalled = None;
            return r;
        }
        let limit = self.limit;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if sleep.as_mut().poll(cx).is_ready() {
            return std::task::Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client took none of the response",
            )));
        }
        std::task::Poll::Pending
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for StallTimeout<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for StallTimeout<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, r)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, r)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Open connections by client address (loopback not counted).
#[derive(Clone)]
struct PerIp {
    max: usize,
    open: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
}

/// One connection's place among its address's; released on drop.
struct IpSlot {
    ip: Option<std::net::IpAddr>,
    open: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
}

impl PerIp {
    fn new(max: usize) -> Self {
        PerIp {
            max,
            open: Default::default(),
        }
    }

    /// A place for a connection from `ip`, or `None` if it has `max` open already. An
    /// IPv4 client seen through a dual-stack listener (`::ffff:a.b.c.d`) counts as its
    /// IPv4 address, and IPv6 clients by their /64 (one client commonly holds a whole
    /// /64).
    fn take(&self, ip: std::net::IpAddr) -> Option<IpSlot> {
        let ip = ip.to_canonical();
        if !ip.is_loopback()
            && let std::net::IpAddr::V6(v6) = ip
        {
            let mut o = v6.octets();
            o[8..].fill(0);
            return self.take_counted(std::net::IpAddr::V6(o.into()));
        }
        self.take_counted(ip)
    }

    fn take_counted(&self, ip: std::net::IpAddr) -> Option<IpSlot> {
        if ip.is_loopback() {
            return Some(IpSlot {
                ip: None,
                open: self.open.clone(),
            });
        }
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            ip: Some(ip),
            open: self.open.clone(),
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let Some(ip) = self.ip else { return };
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An address gets at most `max` places, freed as its connections end (and its
    /// entry forgotten at none); loopback is not counted; addresses do not share.
    #[test]
    fn connections_are_counted_per_address() {
        let per_ip = PerIp::new(2);
        let a: std::net::IpAddr = "203.0.113.7".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8::1".parse().unwrap();
        let first = per_ip.take(a).unwrap();
        let second = per_ip.take(a).unwrap();
        assert!(per_ip.take(a).is_none());
        let other = per_ip.take(b).unwrap();
        drop(first);
        let third = per_ip.take(a).unwrap();
        assert!(per_ip.take(a).is_none());
        let local: Vec<_> = ["127.0.0.1", "::1", "::ffff:127.0.0.1"]
            .iter()
            .cycle()
            .take(12)
            .map(|a| per_ip.take(a.parse().unwrap()).unwrap())
            .collect();
        // The same /64 is one client; an IPv4 address seen as IPv6 is itself.
        let c: std::net::IpAddr = "2001:db8:0:1::1".parse().unwrap();
        let c2: std::net::IpAddr = "2001:db8:0:1:ffff::2".parse().unwrap();
        let in_64 = (per_ip.take(c).unwrap(), per_ip.take(c2).unwrap());
        assert!(per_ip.take(c).is_none());
        let mapped: std::net::IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert!(per_ip.take(mapped).is_none(), "a's two places are taken");
        drop((second, third, other, local, in_64));
        assert!(per_ip.open.lock().unwrap().is_empty());
    }
}
