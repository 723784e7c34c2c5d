//! The socket side of the transport layer: UDP sockets, TCP listeners, the TCP connection
//! table and the per-connection reader/writer tasks. Everything received becomes a
//! `TransportEvent` on one channel to the core; everything to send goes through
//! `TransportHub::send`, which never blocks the caller.
//!
//! TCP connections are keyed by the remote address, so a response, or a request to an agent
//! that registered over TCP, goes back over the connection the peer opened (RFC 3261 §18.2.2,
//! RFC 5626 flow reuse); a request to a peer without a connection opens one.
//!
//! Idle connections are closed by a sweep (`idle_sweep`, run on another runtime), not by a
//! timeout around each read: the connection tasks share the core's runtime, and a timer there
//! would be registered and cancelled on every read and give the core's `epoll_wait` a timeout
//! (an hrtimer armed and cancelled each time the thread sleeps). A reader only stamps the time
//! of its last read.

use bytes::{Bytes, BytesMut};
use socket2::{Domain, Socket, Type};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Notify};
use tracing::{debug, warn};

use super::error::TransportError;
use super::mmsg::{self, RecvSlots};
use super::{Peer, Protocol};
use crate::sip::{Frame, StreamFramer};

/// Limits the transport enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest message, bytes.
    pub max_message_size: usize,
    /// Idle TCP connections are closed after this.
    pub tcp_idle_timeout: Duration,
    /// Most simultaneous TCP connections.
    pub max_tcp_connections: usize,
    /// Most bytes queued to one TCP connection's writer and not yet handed to the kernel; a
    /// message that would go past it closes the connection instead (see `Conn::queue`).
    pub tcp_send_queue_bytes: usize,
}

/// What the transport hands to the core.
#[derive(Debug)]
pub enum TransportEvent {
    /// One message's bytes (a datagram, or one Content-Length-framed stream message).
    Message {
        /// The bytes.
        data: Bytes,
        /// Where they came from.
        peer: Peer,
        /// The local address they arrived on.
        local: SocketAddr,
        /// Whether stream framing delimited them (parse with `parse_framed`).
        framed: bool,
    },
    /// A stream transport could not reach or lost `peer` while messages were queued to it.
    Unreachable(Peer),
}

struct Conn {
    tx: mpsc::UnboundedSender<Bytes>,
    local: Option<SocketAddr>,
    activity: Arc<Activity>,
}

/// Why a message was not queued to a connection.
enum Refused {
    /// The queue holds `tcp_send_queue_bytes` already: the peer does not read.
    Full,
    /// The connection's writer is gone; the message is handed back.
    Closed(Bytes),
}

impl Conn {
    /// Queues `data` for the connection's writer, counting its bytes against `limit`.
    ///
    /// The queue is bounded by bytes, not messages, and a message that does not fit is not
    /// dropped on its own: over TCP nobody retransmits, so losing one message in the middle of
    /// a stream would leave a transaction hanging with the connection looking healthy. The
    /// caller closes the connection instead (as Kamailio does past `tcp_conn_wq_max`), which
    /// the peer sees and the transaction layer is told of. A message always fits an empty
    /// queue, whatever its size.
    fn queue(&self, data: Bytes, limit: usize) -> Result<(), Refused> {
        let len = data.len();
        let before = self.activity.queued.fetch_add(len, Ordering::Relaxed);
        if before > 0 && before + len > limit {
            self.activity.queued.fetch_sub(len, Ordering::Relaxed);
            return Err(Refused::Full);
        }
        self.tx.send(data).map_err(|e| {
            self.activity.queued.fetch_sub(len, Ordering::Relaxed);
            Refused::Closed(e.0)
        })
    }
}

/// The number of open TCP connections, readable anywhere (`TransportHub::connection_gauge`).
#[derive(Debug, Clone, Default)]
pub struct ConnectionGauge(Arc<AtomicUsize>);

impl ConnectionGauge {
    /// Open TCP connections now.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// What a connection's reader shares with the idle sweep.
struct Activity {
    /// Milliseconds from the hub's epoch to the connection's last read (or its start).
    last_read_ms: AtomicU64,
    /// Wakes the reader to close the connection (`notify_waiters`). The reader holds one
    /// `Notified` for the connection's life, made before its first read: it sees a notice sent
    /// while it was busy, and no waiter is added to and removed from the `Notify`'s list (a
    /// lock each) on every read, as a fresh `notified()` in each `select!` did.
    close: Notify,
    /// Bytes queued to the writer and not yet written (`Conn::queue` adds, the writer takes
    /// away once a write is done).
    queued: AtomicUsize,
    /// A newer connection to the same address took this one's place in the table: it leaves
    /// only the count when its reader ends (`put_conn`, `forget_in`).
    displaced: AtomicBool,
}

impl Activity {
    fn new(epoch: Instant) -> Arc<Activity> {
        Arc::new(Activity {
            last_read_ms: AtomicU64::new(millis_since(epoch)),
            close: Notify::new(),
            queued: AtomicUsize::new(0),
            displaced: AtomicBool::new(false),
        })
    }
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A handle on the connection table, answering `FlowCheck` for the core.
pub struct Flows(Arc<Mutex<HashMap<SocketAddr, Conn>>>);

impl super::FlowCheck for Flows {
    fn is_open(&self, peer: Peer) -> bool {
        peer.protocol.is_reliable() && self.0.lock().map(|c| c.contains_key(&peer.addr)).unwrap_or(false)
    }
}

/// A non-blocking UDP socket registered with the runtime for *read* readiness only: tokio's
/// own `UdpSocket` also asks for write readiness, and then every datagram sent wakes the loop
/// once more when the kernel frees its buffer (an EPOLLOUT edge per send, seen with strace).
/// Sends go straight to the socket; the rare full buffer is retried from a task.
pub type UdpSock = AsyncFd<std::net::UdpSocket>;

/// The listeners and connections of one node.
pub struct TransportHub {
    udp: Vec<(SocketAddr, Arc<UdpSock>)>,
    tcp: Vec<SocketAddr>,
    conns: Arc<Mutex<HashMap<SocketAddr, Conn>>>,
    conn_count: Arc<AtomicUsize>,
    events: mpsc::Sender<TransportEvent>,
    limits: Limits,
    shutdown: watch::Receiver<bool>,
    /// Origin of the connections' read stamps.
    epoch: Instant,
}

fn bind_error(protocol: Protocol, addr: SocketAddr, source: std::io::Error) -> TransportError {
    if source.kind() == std::io::ErrorKind::AddrInUse {
        TransportError::AddrInUse { protocol, addr }
    } else {
        TransportError::Bind { protocol, addr, source }
    }
}

fn socket_for(protocol: Protocol, addr: SocketAddr) -> Result<Socket, TransportError> {
    let ty = if protocol == Protocol::Udp { Type::DGRAM } else { Type::STREAM };
    let s = Socket::new(Domain::for_address(addr), ty, None).map_err(|e| bind_error(protocol, addr, e))?;
    if addr.is_ipv6() {
        // Let [::]:5060 and 0.0.0.0:5060 coexist as separate listeners.
        s.set_only_v6(true).map_err(|e| bind_error(protocol, addr, e))?;
    }
    if protocol != Protocol::Udp {
        // Restart without waiting for TIME_WAIT connections of the previous run.
        s.set_reuse_address(true).map_err(|e| bind_error(protocol, addr, e))?;
    } else {
        // Bursts of registrations must not be dropped by a small default buffer.
        let _ = s.set_recv_buffer_size(4 << 20);
        let _ = s.set_send_buffer_size(4 << 20);
    }
    s.set_nonblocking(true).map_err(|e| bind_error(protocol, addr, e))?;
    s.bind(&addr.into()).map_err(|e| bind_error(protocol, addr, e))?;
    Ok(s)
}

impl TransportHub {
    /// Binds every listener; nothing is received until `start`.
    pub fn bind(
        listens: &[(Protocol, SocketAddr)],
        limits: Limits,
        events: mpsc::Sender<TransportEvent>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(TransportHub, Vec<TcpListener>), TransportError> {
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        let mut listeners = Vec::new();
        for &(protocol, addr) in listens {
            match protocol {
                Protocol::Udp => {
                    let s = socket_for(protocol, addr)?;
                    let std_sock: std::net::UdpSocket = s.into();
                    let local = std_sock.local_addr().map_err(|e| bind_error(protocol, addr, e))?;
                    // SAFETY: the AsyncFd takes ownership of the socket, so its descriptor stays
                    // open and the same for as long as it is registered.
                    let sock = unsafe { AsyncFd::register_with_interest(std_sock, Interest::READABLE) }
                        .map_err(|e| bind_error(protocol, addr, e.into_parts().1))?;
                    udp.push((local, Arc::new(sock)));
                }
                Protocol::Tcp => {
                    let s = socket_for(protocol, addr)?;
                    s.listen(1024).map_err(|e| bind_error(protocol, addr, e))?;
                    let std_l: std::net::TcpListener = s.into();
                    let l = TcpListener::from_std(std_l).map_err(|e| bind_error(protocol, addr, e))?;
                    let local = l.local_addr().map_err(|e| bind_error(protocol, addr, e))?;
                    tcp.push(local);
                    listeners.push(l);
                }
                Protocol::Tls => return Err(TransportError::Unsupported(protocol)),
            }
        }
        let hub = TransportHub {
            udp,
            tcp,
            conns: Arc::new(Mutex::new(HashMap::new())),
            conn_count: Arc::new(AtomicUsize::new(0)),
            events,
            limits,
            shutdown,
            epoch: Instant::now(),
        };
        Ok((hub, listeners))
    }

    /// Starts the TCP accept tasks and hands back the UDP sockets for the core's loop to read.
    pub fn start(&self, tcp_listeners: Vec<TcpListener>) -> UdpInput {
        for l in tcp_listeners {
            tokio::spawn(tcp_acceptor(l, self.ctx()));
        }
        UdpInput::new(self.udp.clone(), self.limits.max_message_size)
    }

    fn ctx(&self) -> ConnCtx {
        ConnCtx {
            conns: self.conns.clone(),
            conn_count: self.conn_count.clone(),
            events: self.events.clone(),
            limits: self.limits,
            shutdown: self.shutdown.clone(),
            epoch: self.epoch,
        }
    }

    /// Closes TCP connections that have read nothing for `tcp_idle_timeout`, checking every
    /// quarter of it (at most every 30 s, at least every 50 ms): a connection goes between the
    /// timeout and 1.25 times it after its last read. Ends at shutdown. Meant for a runtime
    /// other than the connections' own (see the module's doc).
    pub fn idle_sweep(&self) -> impl Future<Output = ()> + Send + 'static {
        let conns = self.conns.clone();
        let epoch = self.epoch;
        let idle = self.limits.tcp_idle_timeout;
        let mut shutdown = self.shutdown.clone();
        let every = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(30));
        let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
        async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    _ = shutdown.changed() => return,
                }
                let now = millis_since(epoch);
                let Ok(c) = conns.lock() else { return };
                for conn in c.values() {
                    if now.saturating_sub(conn.activity.last_read_ms.load(Ordering::Relaxed)) >= idle_ms {
                        conn.activity.close.notify_waiters();
                    }
                }
            }
        }
    }

    /// The bound addresses, as (protocol, address).
    pub fn local_addrs(&self) -> Vec<(Protocol, SocketAddr)> {
        self.udp.iter().map(|(a, _)| (Protocol::Udp, *a)).chain(self.tcp.iter().map(|a| (Protocol::Tcp, *a))).collect()
    }

    /// The local address a message to `dest` leaves from (for Via and Record-Route), if this
    /// node has a listener able to reach it.
    pub fn local_for(&self, dest: Peer) -> Option<SocketAddr> {
        match dest.protocol {
            Protocol::Udp => self.udp_socket_for(dest.addr).map(|(a, _)| a),
            Protocol::Tcp => {
                if let Ok(conns) = self.conns.lock() {
                    if let Some(c) = conns.get(&dest.addr) {
                        if let Some(l) = c.local {
                            // Advertise the listener, not the ephemeral port of an outbound connection.
                            return Some(self.tcp_listener_for(l).unwrap_or(l));
                        }
                    }
                }
                self.tcp.iter().find(|a| same_scope(**a, dest.addr)).or(self.tcp.first()).copied()
            }
            Protocol::Tls => None,
        }
    }

    fn tcp_listener_for(&self, local: SocketAddr) -> Option<SocketAddr> {
        self.tcp.iter().find(|a| a.ip() == local.ip() || a.ip().is_unspecified()).copied()
    }

    fn udp_socket_for(&self, dest: SocketAddr) -> Option<(SocketAddr, &Arc<UdpSock>)> {
        udp_index(&self.udp, dest).map(|i| (self.udp[i].0, &self.udp[i].1))
    }

    /// A `FlowCheck` over this hub's connections.
    pub fn flows(&self) -> Arc<Flows> {
        Arc::new(Flows(self.conns.clone()))
    }

    /// A reader of the number of open TCP connections (the count `max_tcp_connections` is
    /// checked against), for status and metrics on other threads.
    pub fn connection_gauge(&self) -> ConnectionGauge {
        ConnectionGauge(self.conn_count.clone())
    }

    /// Sends `data` to `dest` without waiting. UDP goes out at once; TCP is queued to the
    /// connection's writer, opening a connection first if there is none.
    pub fn send(&self, dest: Peer, data: Bytes) {
        match dest.protocol {
            Protocol::Udp => {
                let Some((_, sock)) = self.udp_socket_for(dest.addr) else {
                    warn!(%dest, "no UDP listener of this address family");
                    return;
                };
                match sock.get_ref().send_to(&data, dest.addr) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => send_later(sock.clone(), vec![(dest.addr, data)]),
                    Err(e) => debug!(%dest, error = %e, "UDP send failed"),
                }
            }
            Protocol::Tcp => self.send_tcp(dest, data),
            Protocol::Tls => {
                let _ = self.events.try_send(TransportEvent::Unreachable(dest));
            }
        }
    }

    fn send_tcp(&self, dest: Peer, data: Bytes) {
        let Ok(mut conns) = self.conns.lock() else { return };
        if let Some(c) = conns.get(&dest.addr) {
            match c.queue(data, self.limits.tcp_send_queue_bytes) {
                Ok(()) => return,
                Err(Refused::Full) => {
                    warn!(%dest, limit = self.limits.tcp_send_queue_bytes, "TCP send queue over its limit (the peer does not read): closing the connection");
                    if let Some(c) = take_conn(&mut conns, &self.conn_count, dest.addr) {
                        c.activity.close.notify_waiters();
                    }
                    let _ = self.events.try_send(TransportEvent::Unreachable(dest));
                    return;
                }
                Err(Refused::Closed(d)) => {
                    take_conn(&mut conns, &self.conn_count, dest.addr);
                    return self.open_and_send(&mut conns, dest, d);
                }
            }
        }
        self.open_and_send(&mut conns, dest, data)
    }

    fn open_and_send(&self, conns: &mut HashMap<SocketAddr, Conn>, dest: Peer, data: Bytes) {
        if self.conn_count.load(Ordering::Relaxed) >= self.limits.max_tcp_connections {
            warn!(%dest, "TCP connection limit reached; not connecting");
            let _ = self.events.try_send(TransportEvent::Unreachable(dest));
            return;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let activity = Activity::new(self.epoch);
        let conn = Conn { tx, local: None, activity: activity.clone() };
        let _ = conn.queue(data, self.limits.tcp_send_queue_bytes);
        put_conn(conns, &self.conn_count, dest.addr, conn);
        let ctx = self.ctx();
        tokio::spawn(async move {
            let connect = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(dest.addr)).await;
            match connect {
                Ok(Ok(stream)) => {
                    let local = stream.local_addr().ok();
                    if let (Ok(mut c), Some(l)) = (ctx.conns.lock(), local) {
                        if let Some(conn) = c.get_mut(&dest.addr) {
                            conn.local = Some(l);
                        }
                    }
                    run_connection(stream, dest.addr, local, rx, activity, ctx).await;
                }
                _ => {
                    debug!(%dest, "TCP connect failed");
                    forget(&ctx, dest.addr, &activity);
                    let _ = ctx.events.send(TransportEvent::Unreachable(dest)).await;
                }
            }
        });
    }
}

/// Whether `local` can reach `dest`: loopback listeners only reach loopback peers.
/// Which UDP socket reaches `dest`: one of the same scope (loopback, link-local, ...), else
/// the first of its address family.
fn udp_index(socks: &[(SocketAddr, Arc<UdpSock>)], dest: SocketAddr) -> Option<usize> {
    socks.iter().position(|(a, _)| same_scope(*a, dest)).or_else(|| socks.iter().position(|(a, _)| a.is_ipv4() == dest.is_ipv4()))
}

fn same_scope(local: SocketAddr, dest: SocketAddr) -> bool {
    local.is_ipv4() == dest.is_ipv4() && (local.ip().is_unspecified() || local.ip().is_loopback() == dest.ip().is_loopback())
}

#[derive(Clone)]
struct ConnCtx {
    conns: Arc<Mutex<HashMap<SocketAddr, Conn>>>,
    conn_count: Arc<AtomicUsize>,
    events: mpsc::Sender<TransportEvent>,
    limits: Limits,
    shutdown: watch::Receiver<bool>,
    epoch: Instant,
}

/// Takes a connection that ended out of the table, unless the entry for `addr` is already
/// another connection's (this one was closed for overflow and a new one opened to the peer).
fn forget(ctx: &ConnCtx, addr: SocketAddr, activity: &Arc<Activity>) {
    if let Ok(mut c) = ctx.conns.lock() {
        forget_in(&mut c, &ctx.conn_count, addr, activity);
    }
}

/// `forget` on the table itself: takes the connection out of the table and the count, or only
/// out of the count when a newer connection to the same address displaced it from the table.
fn forget_in(conns: &mut HashMap<SocketAddr, Conn>, count: &AtomicUsize, addr: SocketAddr, activity: &Arc<Activity>) {
    if conns.get(&addr).is_some_and(|conn| Arc::ptr_eq(&conn.activity, activity)) {
        take_conn(conns, count, addr);
    } else if activity.displaced.swap(false, Ordering::Relaxed) {
        count.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Files `conn` as `addr`'s connection and counts it. A connection already filed for the same
/// address (the peer reconnected from the same port before its old connection's reader saw the
/// end, or reached another of our listeners from the same port) is displaced: its writer ends
/// with its queue (answers to that address leave by the newer connection), and it is told to
/// close — out of the table, the idle sweep could never close it, and a peer that kept it
/// half-open would hold a counted slot for good. It stays counted until its reader ends. Before,
/// its reader's cleanup found the new entry and took nothing, so every displacement left one
/// phantom connection in the count, and enough of them would have refused every new connection
/// at `max_tcp_connections`. (A request still in flight on it is lost with it; RFC 3261 §18.2.2
/// has a peer whose connection closed open a new one for its responses.)
fn put_conn(conns: &mut HashMap<SocketAddr, Conn>, count: &AtomicUsize, addr: SocketAddr, conn: Conn) {
    if let Some(old) = conns.insert(addr, conn) {
        old.activity.displaced.store(true, Ordering::Relaxed);
        old.activity.close.notify_waiters();
    }
    count.fetch_add(1, Ordering::Relaxed);
}

/// Removes `addr`'s connection from the table and the open-connection count together (with
/// `put_conn`, the only places either changes, so that they cannot drift apart).
fn take_conn(conns: &mut HashMap<SocketAddr, Conn>, count: &AtomicUsize, addr: SocketAddr) -> Option<Conn> {
    let conn = conns.remove(&addr)?;
    count.fetch_sub(1, Ordering::Relaxed);
    Some(conn)
}

/// The node's UDP sockets, read and written by the core's own task: a datagram goes from the
/// socket to the parser without a channel hop or a task wake-up, a burst is read with one
/// `recvmmsg` per 32 datagrams, and what the core sends in answer to a burst leaves with one
/// `sendmmsg` per socket (`queue` then `flush`).
pub struct UdpInput {
    socks: Vec<(SocketAddr, Arc<UdpSock>)>,
    slots: RecvSlots,
    /// Where each datagram is copied out of `slots` (see `arena`).
    arena: super::arena::DatagramArena,
    max: usize,
    next: usize,
    /// Per socket (same index as `socks`): datagrams waiting for `flush`.
    out: Vec<Vec<(SocketAddr, Bytes)>>,
}

/// How many datagrams one readiness wake-up reads at most (fairness with timers and TCP).
const UDP_BURST: usize = 64;

impl UdpInput {
    fn new(socks: Vec<(SocketAddr, Arc<UdpSock>)>, max: usize) -> UdpInput {
        let out = socks.iter().map(|_| Vec::new()).collect();
        UdpInput { socks, slots: RecvSlots::new(max), arena: Default::default(), max, next: 0, out }
    }

    /// Waits until one of the sockets has a datagram; returns its index. Takes `&self` so
    /// that the core's `select!` can hold this future in two branches (see `daemon::run`).
    pub async fn readable(&self) -> usize {
        if self.socks.is_empty() {
            return std::future::pending().await;
        }
        let n = self.socks.len();
        let start = self.next;
        std::future::poll_fn(|cx| {
            // Round-robin start so one busy socket cannot starve the others.
            for k in 0..n {
                let i = (start + k) % n;
                if self.socks[i].1.poll_read_ready(cx).is_ready() {
                    return std::task::Poll::Ready(i);
                }
            }
            std::task::Poll::Pending
        })
        .await
    }

    /// Reads what socket `i` has (up to a burst), handing each datagram to `f`; says how many
    /// it read and whether the socket ran dry (for `Moderation`).
    pub fn drain(&mut self, i: usize, mut f: impl FnMut(Bytes, Peer, SocketAddr)) -> super::Drained {
        self.next = (i + 1) % self.socks.len().max(1);
        let Some((local, sock)) = self.socks.get(i).map(|(l, s)| (*l, s.clone())) else {
            return super::Drained { datagrams: 0, dry: true };
        };
        let mut read = 0;
        let mut datagrams = 0;
        while read < UDP_BURST {
            let slots = &mut self.slots;
            let mut got = 0;
            // A short batch means the queue was empty a moment ago: report WouldBlock so tokio
            // clears the readiness now instead of after one more (empty) recvmmsg. Safe with
            // epoll's edge triggering: a datagram queued after that moment raises a new event,
            // and tokio ignores the clear if an event arrived while we were reading.
            let r = sock.try_io(Interest::READABLE, |s| {
                got = mmsg::recv_batch(s, slots)?;
                if got < mmsg::BATCH {
                    Err(std::io::ErrorKind::WouldBlock.into())
                } else {
                    Ok(())
                }
            });
            read += got.max(1);
            datagrams += got;
            for k in 0..got {
                let Some((data, from, cut)) = self.slots.get(k) else { break };
                let Some(from) = from else { continue };
                if data.is_empty() || cut || data.len() > self.max {
                    continue;
                }
                // CRLF keep-alives (and stray whitespace) carry no message.
                if data.iter().all(|c| matches!(c, b'\r' | b'\n' | b' ' | 0)) {
                    continue;
                }
                f(self.arena.copy(data), Peer::new(Protocol::Udp, from), local);
            }
            match r {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return super::Drained { datagrams, dry: true },
                // ICMP port unreachable from an earlier send can show up here: ignore.
                Err(e) => {
                    debug!(error = %e, "UDP receive error");
                    return super::Drained { datagrams, dry: false };
                }
            }
        }
        super::Drained { datagrams, dry: false }
    }

    /// Queues `data` for `dest` on the socket that reaches it; gives it back when no UDP
    /// socket of that address family exists. Nothing is sent before `flush`.
    pub fn queue(&mut self, dest: SocketAddr, data: Bytes) -> Result<(), Bytes> {
        match udp_index(&self.socks, dest) {
            Some(i) => {
                self.out[i].push((dest, data));
                Ok(())
            }
            None => Err(data),
        }
    }

    /// Sends everything queued, one `sendmmsg` per 32 datagrams. A full socket buffer hands the
    /// rest to a task that waits for the socket to drain (never blocks the core); a datagram
    /// the kernel refuses is logged and skipped.
    pub fn flush(&mut self) {
        for (i, (_, sock)) in self.socks.iter().enumerate() {
            let out = &mut self.out[i];
            let mut sent = 0;
            while sent < out.len() {
                match mmsg::send_batch(sock.get_ref(), &out[sent..]) {
                    Ok(n) => sent += n.max(1),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        send_later(sock.clone(), out.drain(sent..).collect());
                        break;
                    }
                    Err(e) => {
                        debug!(dest = %out[sent].0, error = %e, "UDP send failed");
                        sent += 1;
                    }
                }
            }
            out.clear();
        }
    }
}

/// Datagrams that met a full socket buffer: retried every millisecond for up to 100 ms, then
/// dropped (UDP may lose them anyway; the transaction layer retransmits what matters). A full
/// 4 MB send buffer means overload, so this path is rare and never blocks the core.
fn send_later(sock: Arc<UdpSock>, mut rest: Vec<(SocketAddr, Bytes)>) {
    tokio::spawn(async move {
        let mut sent = 0;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(1)).await;
            while sent < rest.len() {
                match mmsg::send_batch(sock.get_ref(), &rest[sent..]) {
                    Ok(n) => sent += n.max(1),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(_) => sent += 1,
                }
            }
            if sent == rest.len() {
                return;
            }
        }
        debug!(dropped = rest.len() - sent, "UDP send buffer full for 100 ms: datagrams dropped");
        rest.clear();
    });
}

async fn tcp_acceptor(listener: TcpListener, ctx: ConnCtx) {
    let mut shutdown = ctx.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => return,
        };
        match accepted {
            Ok((stream, remote)) => {
                if ctx.conn_count.load(Ordering::Relaxed) >= ctx.limits.max_tcp_connections {
                    warn!("TCP connection limit reached; refusing a connection");
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let (tx, rx) = mpsc::unbounded_channel();
                let local = stream.local_addr().ok();
                let activity = Activity::new(ctx.epoch);
                if let Ok(mut c) = ctx.conns.lock() {
                    put_conn(&mut c, &ctx.conn_count, remote, Conn { tx, local, activity: activity.clone() });
                }
                tokio::spawn(run_connection(stream, remote, local, rx, activity, ctx.clone()));
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// At most this many bytes are gathered into one write.
const WRITE_GATHER: usize = 64 * 1024;

/// A gather buffer grown past this by a burst is given back after it.
const WRITE_KEEP: usize = 16 * 1024;

/// Writes what the core queues for one connection until the queue closes or a write fails.
///
/// Whatever is queued when the writer wakes leaves in one `send`: the core answers a burst of
/// requests in one turn, and one write per message cost a full trip through the TCP stack each
/// (segment, loopback or NIC, the peer's wake-up and its ACK): with SIPp over one connection at
/// 4,000 REGISTER/s, `send` was ~40% of urpd's CPU. Gathering copies the messages (a few hundred
/// bytes each) into one buffer, far cheaper than a system call per message.
///
/// `queued` counts the bytes waiting here; each batch's bytes leave the count once written.
async fn write_queued<W: AsyncWrite + Unpin>(wr: &mut W, rx: &mut mpsc::UnboundedReceiver<Bytes>, queued: &AtomicUsize) {
    let mut gather: Vec<u8> = Vec::new();
    while let Some(first) = rx.recv().await {
        let (written, len) = match rx.try_recv() {
            Err(_) => (wr.write_all(&first).await, first.len()),
            Ok(second) => {
                gather.clear();
                gather.extend_from_slice(&first);
                gather.extend_from_slice(&second);
                while gather.len() < WRITE_GATHER {
                    match rx.try_recv() {
                        Ok(more) => gather.extend_from_slice(&more),
                        Err(_) => break,
                    }
                }
                let r = wr.write_all(&gather).await;
                let len = gather.len();
                gather.clear();
                gather.shrink_to(WRITE_KEEP);
                (r, len)
            }
        };
        queued.fetch_sub(len, Ordering::Relaxed);
        if written.is_err() {
            return;
        }
    }
}

async fn run_connection(
    stream: TcpStream,
    remote: SocketAddr,
    local: Option<SocketAddr>,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    activity: Arc<Activity>,
    ctx: ConnCtx,
) {
    let (mut rd, mut wr) = stream.into_split();
    let written = activity.clone();
    let writer = tokio::spawn(async move {
        write_queued(&mut wr, &mut rx, &written.queued).await;
        let _ = wr.shutdown().await;
    });
    let peer = Peer::new(Protocol::Tcp, remote);
    let local = local.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut buf = BytesMut::with_capacity(8192);
    let mut framer = StreamFramer::new();
    let mut shutdown = ctx.shutdown.clone();
    let closed = activity.close.notified();
    tokio::pin!(closed);
    'conn: loop {
        // Deliver every complete message in the buffer.
        loop {
            match framer.poll(&buf, ctx.limits.max_message_size) {
                Ok(Frame::Incomplete) => break,
                Ok(Frame::KeepAlive(n)) => {
                    let ping = buf.split_to(n);
                    // RFC 5626 §3.5.1: a double CRLF ping is answered by a single CRLF pong.
                    // A pong that does not fit is the same verdict as a message that does not
                    // (`Hub::send_tcp`): the peer pings but does not read, so the connection is
                    // closed rather than the pong silently dropped.
                    if ping.windows(4).any(|w| w == b"\r\n\r\n") {
                        let full = ctx.conns.lock().ok().and_then(|c| {
                            c.get(&remote).map(|conn| {
                                matches!(conn.queue(Bytes::from_static(b"\r\n"), ctx.limits.tcp_send_queue_bytes), Err(Refused::Full))
                            })
                        });
                        if full == Some(true) {
                            warn!(%peer, limit = ctx.limits.tcp_send_queue_bytes, "TCP send queue over its limit (the peer does not read): closing the connection");
                            break 'conn;
                        }
                    }
                }
                Ok(Frame::Message(n)) => {
                    let data = buf.split_to(n).freeze();
                    let ev = TransportEvent::Message { data, peer, local, framed: true };
                    if ctx.events.send(ev).await.is_err() {
                        break 'conn;
                    }
                }
                Err(e) => {
                    // The stream cannot be resynchronised after a framing error.
                    debug!(%peer, error = %e, "closing TCP connection after framing error");
                    break 'conn;
                }
            }
        }
        let read = tokio::select! {
            r = rd.read_buf(&mut buf) => r,
            () = &mut closed => {
                debug!(%peer, "closing idle TCP connection");
                break 'conn;
            }
            _ = shutdown.changed() => break 'conn,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(_) => activity.last_read_ms.store(millis_since(ctx.epoch), Ordering::Relaxed),
        }
    }
    forget(&ctx, remote, &activity);
    writer.abort();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    fn conn(epoch: Instant) -> (Conn, Arc<Activity>, mpsc::UnboundedReceiver<Bytes>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let activity = Activity::new(epoch);
        (Conn { tx, local: None, activity: activity.clone() }, activity, rx)
    }

    #[test]
    fn a_connection_displaced_by_a_newer_one_to_the_same_address_leaves_the_count_once() {
        let (epoch, count) = (Instant::now(), AtomicUsize::new(0));
        let addr = SocketAddr::from(([127, 0, 0, 1], 40000));
        let mut conns = HashMap::new();
        let (first, first_activity, _rx1) = conn(epoch);
        // The reader holds its `Notified` from the start, as `run_connection` does.
        let first_closed = first_activity.close.notified();
        put_conn(&mut conns, &count, addr, first);
        // The peer comes back from the same port before the first reader saw the end.
        let (second, second_activity, _rx2) = conn(epoch);
        put_conn(&mut conns, &count, addr, second);
        assert_eq!(count.load(Ordering::Relaxed), 2, "both connections are open");
        // The displaced one is told to close (out of the table, the idle sweep cannot).
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut first_closed = std::pin::pin!(first_closed);
        assert!(std::future::Future::poll(first_closed.as_mut(), &mut cx).is_ready(), "the displaced connection was not told to close");
        assert!(conns.get(&addr).is_some_and(|c| Arc::ptr_eq(&c.activity, &second_activity)), "the newer one is filed");
        // The first reader ends: it leaves the count, and the newer connection stays filed.
        forget_in(&mut conns, &count, addr, &first_activity);
        assert_eq!(count.load(Ordering::Relaxed), 1, "the displaced connection stayed counted (a phantom)");
        assert!(conns.contains_key(&addr), "the first reader's cleanup took the newer connection");
        // Cleaning up twice takes nothing more.
        forget_in(&mut conns, &count, addr, &first_activity);
        assert_eq!(count.load(Ordering::Relaxed), 1);
        forget_in(&mut conns, &count, addr, &second_activity);
        assert_eq!(count.load(Ordering::Relaxed), 0);
        assert!(conns.is_empty());
    }

    /// Records each write it is given; accepts at most `limit` bytes per call.
    struct Writes {
        calls: Vec<Vec<u8>>,
        limit: usize,
    }

    impl AsyncWrite for Writes {
        fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
            let n = buf.len().min(self.limit);
            self.calls.push(buf[..n].to_vec());
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn run(queued: &[&'static [u8]], limit: usize) -> Vec<Vec<u8>> {
        let rt = match tokio::runtime::Builder::new_current_thread().build() {
            Ok(rt) => rt,
            Err(e) => panic!("runtime: {e}"),
        };
        rt.block_on(async {
            let (tx, mut rx) = mpsc::unbounded_channel();
            let count = AtomicUsize::new(queued.iter().map(|m| m.len()).sum());
            for m in queued {
                if tx.send(Bytes::from_static(m)).is_err() {
                    panic!("queue closed");
                }
            }
            drop(tx);
            let mut w = Writes { calls: Vec::new(), limit };
            write_queued(&mut w, &mut rx, &count).await;
            // Every byte written has left the count.
            assert_eq!(count.load(Ordering::Relaxed), 0);
            w.calls
        })
    }

    #[test]
    fn messages_queued_together_leave_in_one_write_in_order() {
        let calls = run(&[b"one\r\n", b"two\r\n", b"three\r\n"], usize::MAX);
        assert_eq!(calls, vec![b"one\r\ntwo\r\nthree\r\n".to_vec()]);
    }

    #[test]
    fn a_lone_message_is_written_as_it_is() {
        assert_eq!(run(&[b"only"], usize::MAX), vec![b"only".to_vec()]);
    }

    #[test]
    fn a_short_write_is_finished_before_the_next_batch() {
        let calls = run(&[b"abcdef", b"gh"], 3);
        assert_eq!(calls.concat(), b"abcdefgh".to_vec());
        assert_eq!(calls.len(), 3);
    }

    #[test]
    fn a_gather_stops_near_its_bound() {
        static BIG: [u8; 40 * 1024] = [b'x'; 40 * 1024];
        let calls = run(&[&BIG, &BIG, &BIG, b"tail"], usize::MAX);
        // The first two fill the gather past its bound; the third and the tail go next.
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].len(), 80 * 1024);
        assert_eq!(calls[1].len(), 40 * 1024 + 4);
    }
}
