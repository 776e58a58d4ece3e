//! The listener's protection against clients that hold connections without using them:
//! a limit per source address, a budget of connections still in their TLS handshake (the
//! oldest is shed for a newcomer), and a deadline for each write of an answer (a client that
//! does not read loses its connection).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

/// Who holds connections, by source, and which connections are still in their handshake.
#[derive(Debug)]
pub struct Gate {
    max_per_source: usize,
    max_handshaking: usize,
    per_source: Mutex<HashMap<IpAddr, usize>>,
    /// Connections in their handshake, oldest first (by arrival number), each with the
    /// sender that sheds it.
    handshaking: Mutex<BTreeMap<u64, oneshot::Sender<()>>>,
    next: AtomicU64,
}

/// A connection's place in its source's count; given back when dropped.
#[derive(Debug)]
pub struct SourceSlot {
    gate: Arc<Gate>,
    source: IpAddr,
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut map = self
            .gate
            .per_source
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.source);
            }
        }
    }
}

/// A connection's place among those in their handshake; left when dropped (the handshake
/// ended, either way).
#[derive(Debug)]
pub struct Handshaking {
    gate: Arc<Gate>,
    id: u64,
    /// Fires when the connection is shed for a newer one.
    pub shed: oneshot::Receiver<()>,
}

impl Drop for Handshaking {
    fn drop(&mut self) {
        self.gate
            .handshaking
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

impl Gate {
    /// A gate with these limits.
    pub fn new(max_per_source: usize, max_handshaking: usize) -> Arc<Gate> {
        Arc::new(Gate {
            max_per_source,
            max_handshaking,
            per_source: Mutex::new(HashMap::new()),
            handshaking: Mutex::new(BTreeMap::new()),
            next: AtomicU64::new(0),
        })
    }

    /// Admits a connection from `source`, or `None` when that source already holds its
    /// limit.
    pub fn admit(self: &Arc<Self>, source: IpAddr) -> Option<SourceSlot> {
        let mut map = self.per_source.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(source).or_insert(0);
        if *n >= self.max_per_source {
            return None;
        }
        *n += 1;
        Some(SourceSlot {
            gate: self.clone(),
            source,
        })
    }

    /// Begins a handshake. When the budget is full, the oldest handshake still under way is
    /// shed (its [`Handshaking::shed`] fires) to make room.
    pub fn begin_handshake(self: &Arc<Self>) -> Handshaking {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let mut map = self.handshaking.lock().unwrap_or_else(|e| e.into_inner());
        while map.len() >= self.max_handshaking {
            match map.pop_first() {
                Some((_, oldest)) => {
                    let _ = oldest.send(());
                }
                None => break,
            }
        }
        map.insert(id, tx);
        Handshaking {
            gate: self.clone(),
            id,
            shed: rx,
        }
    }

    /// Connections in their handshake now.
    #[cfg(test)]
    fn handshaking(&self) -> usize {
        self.handshaking
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

/// An I/O stream whose writes fail with `TimedOut` when one stays pending longer than the
/// deadline: a client that stops reading its answers (its receive window full) then loses
/// the connection instead of holding it for ever. Reads pass through (the header and body
/// timeouts bound those).
pub struct WriteDeadline<T> {
    inner: T,
    limit: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    timed_out: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl<T> WriteDeadline<T> {
    /// `inner` with writes limited to `limit` each; `on_timeout` runs once when one is cut.
    pub fn new(inner: T, limit: Duration, on_timeout: Arc<dyn Fn() + Send + Sync>) -> Self {
        WriteDeadline {
            inner,
            limit,
            timer: None,
            timed_out: Some(on_timeout),
        }
    }

    /// What a write's poll comes to under the deadline: a write that made progress (or
    /// failed) ends its deadline; one still pending fails once it has waited `limit`.
    fn within_deadline<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if polled.is_ready() {
            self.timer = None;
            return polled;
        }
        let limit = self.limit;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if let Some(f) = self.timed_out.take() {
            f();
        }
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client did not read its answer in time",
        )))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.within_deadline(cx, polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.within_deadline(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.within_deadline(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.within_deadline(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_holds_at_most_its_limit_and_gets_slots_back() {
        let gate = Gate::new(2, 10);
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let other: IpAddr = "192.0.2.2".parse().expect("ip");
        let a = gate.admit(ip).expect("first");
        let _b = gate.admit(ip).expect("second");
        assert!(gate.admit(ip).is_none(), "third from one source");
        assert!(
            gate.admit(other).is_some(),
            "another source is not affected"
        );
        drop(a);
        assert!(
            gate.admit(ip).is_some(),
            "a closed connection gives its slot back"
        );
    }

    #[test]
    fn past_the_budget_the_oldest_handshake_is_shed() {
        let gate = Gate::new(100, 2);
        let mut first = gate.begin_handshake();
        let mut second = gate.begin_handshake();
        assert!(first.shed.try_recv().is_err(), "within the budget");
        let third = gate.begin_handshake();
        assert!(first.shed.try_recv().is_ok(), "the oldest is told to go");
        assert!(second.shed.try_recv().is_err(), "the younger stays");
        assert_eq!(gate.handshaking(), 2);
        drop(third);
        drop(second);
        assert_eq!(gate.handshaking(), 0, "finished handshakes leave");
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_the_client_does_not_take_times_out() {
        use tokio::io::AsyncWriteExt;
        // A pipe whose reader never reads: 64 bytes of buffer, then writes stay pending.
        let (client, _server_end_never_read) = tokio::io::duplex(64);
        let cut = Arc::new(AtomicU64::new(0));
        let seen = cut.clone();
        let mut w = WriteDeadline::new(
            client,
            Duration::from_secs(30),
            Arc::new(move || {
                seen.fetch_add(1, Ordering::Relaxed);
            }),
        );
        let err = w
            .write_all(&[0u8; 1024])
            .await
            .expect_err("the reader never reads");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(cut.load(Ordering::Relaxed), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn writes_that_are_taken_never_time_out() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (client, mut server) = tokio::io::duplex(64);
        let mut w = WriteDeadline::new(client, Duration::from_secs(30), Arc::new(|| {}));
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 16];
            loop {
                // A slow reader: each 16 bytes 10 s apart, far longer in all than the limit.
                tokio::time::sleep(Duration::from_secs(10)).await;
                match server.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            got.len()
        });
        w.write_all(&[1u8; 256]).await.expect("taken, slowly");
        w.shutdown().await.expect("shutdown");
        drop(w);
        assert_eq!(reader.await.expect("reader"), 256);
    }
}
