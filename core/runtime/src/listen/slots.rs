//! Connections earn their slot. Each TCP/RELP listener keeps a table of its
//! connections with the time each last completed a message; at `max_connections`
//! the one that has gone longest without one is told to close, so a new sender
//! (rsyslog reconnecting, say) always gets in, however many idle or trickling
//! connections someone opened. Read buffers are counted in a gauge and given back
//! once a large message has gone through.

use crate::metrics::Metrics;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Bytes asked of the socket per read.
pub(super) const READ_SIZE: usize = 32 * 1024;

/// One connection's entry in its listener's table.
#[derive(Debug)]
pub(super) struct Slot {
    /// Milliseconds since the table's start at the last completed message (or the accept).
    last_message_ms: AtomicU64,
    evicted: AtomicBool,
    wake: Notify,
}

impl Slot {
    /// Resolves once the listener wants this connection closed for a new one.
    pub(super) async fn evicted(&self) {
        loop {
            let notified = self.wake.notified();
            if self.evicted.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    pub(super) fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }
}

/// A listener's connections.
#[derive(Debug)]
pub(super) struct Table {
    start: Instant,
    max: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    slots: HashMap<u64, Arc<Slot>>,
}

/// A connection's hold on its slot; leaving the table when dropped.
#[derive(Debug)]
pub(super) struct Held {
    table: Arc<Table>,
    id: u64,
    pub(super) slot: Arc<Slot>,
}

impl Held {
    /// The connection completed a message: it goes to the back of the eviction line.
    pub(super) fn completed(&self) {
        self.slot
            .last_message_ms
            .store(self.table.now_ms(), Ordering::Relaxed);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.table.lock().slots.remove(&self.id);
    }
}

/// What admitting a connection did.
pub(super) enum Admission {
    /// Admitted; with `evicted`, another was told to close to make room.
    Admitted { held: Held, evicted: bool },
    /// Even counting those already told to close, the table is full: wait for one to end.
    Full,
}

impl Table {
    pub(super) fn new(max: usize) -> Arc<Table> {
        Arc::new(Table {
            start: Instant::now(),
            max,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Admits a new connection, telling the connection longest without a completed
    /// message to close when `max` are open. Connections told to close may linger
    /// while they hand on what they read; up to `max` of them, then `Full`.
    pub(super) fn admit(self: &Arc<Self>) -> Admission {
        let mut inner = self.lock();
        let active = inner.slots.values().filter(|s| !s.is_evicted()).count();
        let mut evicted = false;
        if active >= self.max {
            if inner.slots.len() >= 2 * self.max {
                return Admission::Full;
            }
            let victim = inner
                .slots
                .values()
                .filter(|s| !s.is_evicted())
                .min_by_key(|s| s.last_message_ms.load(Ordering::Relaxed));
            if let Some(victim) = victim {
                victim.evicted.store(true, Ordering::Release);
                victim.wake.notify_waiters();
                evicted = true;
            }
        }
        let id = inner.next;
        inner.next += 1;
        let slot = Arc::new(Slot {
            last_message_ms: AtomicU64::new(self.now_ms()),
            evicted: AtomicBool::new(false),
            wake: Notify::new(),
        });
        inner.slots.insert(id, Arc::clone(&slot));
        Admission::Admitted {
            held: Held {
                table: Arc::clone(self),
                id,
                slot,
            },
            evicted,
        }
    }
}

/// A warning that comes at most once per interval, with how many times it
/// happened since the last one.
#[derive(Debug)]
pub(super) struct RateLimited {
    every: Duration,
    last: Option<Instant>,
    pending: u64,
}

impl RateLimited {
    pub(super) fn new(every: Duration) -> RateLimited {
        RateLimited {
            every,
            last: None,
            pending: 0,
        }
    }

    /// Counts an event; returns how many to report when a line is due.
    pub(super) fn hit(&mut self) -> Option<u64> {
        self.add(1)
    }

    /// Counts `n` events at once.
    pub(super) fn add(&mut self, n: u64) -> Option<u64> {
        self.pending += n;
        self.due()
    }

    /// The count to report if the interval has passed and something is pending.
    pub(super) fn due(&mut self) -> Option<u64> {
        if self.pending == 0 || self.last.is_some_and(|t| t.elapsed() < self.every) {
            return None;
        }
        self.last = Some(Instant::now());
        Some(std::mem::take(&mut self.pending))
    }

    /// Whatever is pending, due or not (at shutdown).
    pub(super) fn rest(&mut self) -> Option<u64> {
        (self.pending > 0).then(|| std::mem::take(&mut self.pending))
    }
}

/// A connected stream socket (TCP or unix) read without blocking: the two
/// tokio types share these methods but no trait.
pub(super) trait ByteStream {
    /// Waits until the socket may be read.
    fn readable(&self) -> impl std::future::Future<Output = std::io::Result<()>> + Send;
    fn try_read_buf(&self, buf: &mut Vec<u8>) -> std::io::Result<usize>;
    fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize>;
}

macro_rules! byte_stream {
    ($($t:ty),*) => {$(
        impl ByteStream for $t {
            fn readable(&self) -> impl std::future::Future<Output = std::io::Result<()>> + Send {
                <$t>::readable(self)
            }
            fn try_read_buf(&self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
                <$t>::try_read_buf(self, buf)
            }
            fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                <$t>::try_read(self, buf)
            }
        }
    )*};
}

byte_stream!(tokio::net::TcpStream, tokio::net::UnixStream);

/// A connection's read buffer: its capacity is counted in `connection_buffer_bytes`,
/// it grows by one read at a time (never doubling), and is given back when empty
/// or far larger than what it holds, so neither idle connections nor a burst of
/// large messages keep memory.
pub(super) struct ReadBuffer<'a> {
    pub(super) data: Vec<u8>,
    gauge: &'a AtomicU64,
    counted: usize,
}

impl<'a> ReadBuffer<'a> {
    pub(super) fn new(metrics: &'a Metrics) -> ReadBuffer<'a> {
        ReadBuffer {
            data: Vec::new(),
            gauge: &metrics.connection_buffer_bytes,
            counted: 0,
        }
    }

    fn count(&mut self) {
        let cap = self.data.capacity();
        if cap > self.counted {
            self.gauge
                .fetch_add((cap - self.counted) as u64, Ordering::Relaxed);
        } else if cap < self.counted {
            self.gauge
                .fetch_sub((self.counted - cap) as u64, Ordering::Relaxed);
        }
        self.counted = cap;
    }

    /// Room for one more read.
    pub(super) fn make_room(&mut self, read_size: usize) {
        if self.data.capacity() - self.data.len() < read_size / 2 {
            self.data.reserve_exact(read_size);
            self.count();
        }
    }

    /// Waits for bytes and reads what the socket holds (one read's worth),
    /// taking memory only once there is something to read: an idle connection
    /// holds no buffer. `Ok(0)` at the end of the stream.
    pub(super) async fn read_from<S: ByteStream>(
        &mut self,
        stream: &S,
        read_size: usize,
    ) -> std::io::Result<usize> {
        loop {
            stream.readable().await?;
            self.make_room(read_size);
            match stream.try_read_buf(&mut self.data) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => self.consume(0, read_size),
                other => return other,
            }
        }
    }

    /// Drops the first `used` bytes (consumed by the framer) and gives memory back.
    pub(super) fn consume(&mut self, used: usize, read_size: usize) {
        self.data.drain(..used);
        if self.data.is_empty() {
            self.data = Vec::new();
        } else if self.data.capacity() > self.data.len() + 2 * read_size {
            self.data.shrink_to(self.data.len() + read_size);
        }
        self.count();
    }
}

impl Drop for ReadBuffer<'_> {
    fn drop(&mut self) {
        self.gauge.fetch_sub(self.counted as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_longest_without_a_message_makes_room() {
        let table = Table::new(3);
        let mut held = Vec::new();
        for _ in 0..3 {
            match table.admit() {
                Admission::Admitted { held: h, evicted } => {
                    assert!(!evicted);
                    held.push(h);
                }
                Admission::Full => panic!("room for three"),
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // The first one keeps sending; the second has been silent longest.
        held[0].completed();
        let Admission::Admitted {
            held: fourth,
            evicted,
        } = table.admit()
        else {
            panic!("admitted by making room")
        };
        assert!(evicted);
        assert!(!held[0].slot.is_evicted());
        assert!(held[1].slot.is_evicted());
        assert!(!held[2].slot.is_evicted());
        assert!(!fourth.slot.is_evicted());
        drop(held.remove(1));
        assert_eq!(table.lock().slots.len(), 3);
    }

    #[test]
    fn lingering_evicted_connections_are_bounded() {
        let table = Table::new(1);
        let first = table.admit();
        let second = table.admit();
        assert!(matches!(table.admit(), Admission::Full));
        drop((first, second));
        assert!(matches!(table.admit(), Admission::Admitted { .. }));
    }

    #[test]
    fn a_warning_comes_once_per_interval_with_a_count() {
        let mut w = RateLimited::new(Duration::from_millis(50));
        assert_eq!(w.hit(), Some(1));
        for _ in 0..977 {
            assert_eq!(w.hit(), None);
        }
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(w.hit(), Some(978));
        assert_eq!(w.rest(), None);
    }

    #[test]
    fn read_buffers_are_counted_and_given_back() {
        let m = Metrics::default();
        {
            let mut b = ReadBuffer::new(&m);
            b.make_room(READ_SIZE);
            assert_eq!(Metrics::get(&m.connection_buffer_bytes), READ_SIZE as u64);
            // A large unfinished message grows it one read at a time.
            for _ in 0..4 {
                b.make_room(READ_SIZE);
                let len = b.data.len();
                b.data.resize(len + READ_SIZE, b'x');
                b.consume(0, READ_SIZE);
            }
            let held = Metrics::get(&m.connection_buffer_bytes);
            assert!(held <= 6 * READ_SIZE as u64, "{held}");
            // The message completes and a small rest remains: the memory goes back.
            b.consume(4 * READ_SIZE - 10, READ_SIZE);
            assert!(Metrics::get(&m.connection_buffer_bytes) <= (READ_SIZE + 10) as u64);
            b.consume(10, READ_SIZE);
            assert_eq!(Metrics::get(&m.connection_buffer_bytes), 0);
            b.make_room(READ_SIZE);
        }
        assert_eq!(Metrics::get(&m.connection_buffer_bytes), 0);
    }
}
