//! Batched datagram I/O: `recvmmsg(2)` and `sendmmsg(2)` on Linux, one `recv_from`/`send_to`
//! per datagram elsewhere. SIPp and phones send in bursts (a scheduler tick's worth of calls at
//! once); reading and answering a burst with one system call each way instead of one per
//! datagram is what `benches/profile.sh` measured (docs/benchmarks.md, "Optimisations").
//!
//! The functions take a socket that is already non-blocking; `WouldBlock` comes back as an
//! error exactly as from the single-datagram calls, so callers use them inside tokio's
//! `try_io` and readiness stays correct.

use std::io;
use std::net::SocketAddr;

/// Most datagrams one call moves.
pub const BATCH: usize = 32;

/// Receive buffers for one `recv_batch`: `BATCH` slots of `slot` bytes each, reused.
pub struct RecvSlots {
    buf: Vec<u8>,
    slot: usize,
    /// Per received datagram: (length, source, truncated).
    meta: Vec<(usize, Option<SocketAddr>, bool)>,
    /// Source addresses the kernel fills in, kept between calls: zeroing 32 of them on the
    /// stack per call was ~4% of the instructions at 200 REGISTER/s (one datagram per call).
    #[cfg(target_os = "linux")]
    names: Vec<libc::sockaddr_storage>,
}

impl RecvSlots {
    /// Slots big enough for datagrams of `max` bytes; one more byte tells a larger one
    /// (truncated, to be dropped) from one of exactly `max`.
    pub fn new(max: usize) -> RecvSlots {
        let slot = (max + 1).min(65_536);
        RecvSlots {
            buf: vec![0u8; slot * BATCH],
            slot,
            meta: Vec::with_capacity(BATCH),
            // SAFETY: all-zero is a valid sockaddr_storage (a plain C struct).
            #[cfg(target_os = "linux")]
            names: (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect(),
        }
    }

    /// Datagram `i` of the last batch: its bytes, its source, whether it was cut.
    pub fn get(&self, i: usize) -> Option<(&[u8], Option<SocketAddr>, bool)> {
        let &(len, from, trunc) = self.meta.get(i)?;
        let start = i * self.slot;
        let end = start + len.min(self.slot);
        Some((&self.buf[start..end], from, trunc || len > self.slot))
    }

    /// How many datagrams the last batch holds.
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    /// Whether the last batch was empty.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use super::*;
    use std::mem::{size_of, zeroed, MaybeUninit};
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::AsRawFd;

    fn to_sockaddr(addr: &SocketAddr, storage: &mut libc::sockaddr_storage) -> libc::socklen_t {
        match addr {
            SocketAddr::V4(a) => {
                // SAFETY: sockaddr_storage is large enough and suitably aligned for sockaddr_in.
                let sin = unsafe { &mut *(storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = a.port().to_be();
                sin.sin_addr = libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) };
                size_of::<libc::sockaddr_in>() as libc::socklen_t
            }
            SocketAddr::V6(a) => {
                // SAFETY: as above, for sockaddr_in6.
                let sin6 = unsafe { &mut *(storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = a.port().to_be();
                sin6.sin6_flowinfo = a.flowinfo();
                sin6.sin6_addr = libc::in6_addr { s6_addr: a.ip().octets() };
                sin6.sin6_scope_id = a.scope_id();
                size_of::<libc::sockaddr_in6>() as libc::socklen_t
            }
        }
    }

    fn from_sockaddr(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
        match i32::from(storage.ss_family) {
            libc::AF_INET if len as usize >= size_of::<libc::sockaddr_in>() => {
                // SAFETY: the kernel wrote a sockaddr_in (family and length checked).
                let sin = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(sin.sin_port))))
            }
            libc::AF_INET6 if len as usize >= size_of::<libc::sockaddr_in6>() => {
                // SAFETY: the kernel wrote a sockaddr_in6 (family and length checked).
                let sin6 = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
                let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                Some(SocketAddr::V6(SocketAddrV6::new(ip, u16::from_be(sin6.sin6_port), sin6.sin6_flowinfo, sin6.sin6_scope_id)))
            }
            _ => None,
        }
    }

    /// Reads up to `BATCH` datagrams into `slots` with one `recvmmsg`; returns how many.
    pub fn recv_batch(sock: &impl AsRawFd, slots: &mut RecvSlots) -> io::Result<usize> {
        slots.meta.clear();
        let slot = slots.slot;
        let mut iovs = [const { MaybeUninit::<libc::iovec>::uninit() }; BATCH];
        let mut hdrs = [const { MaybeUninit::<libc::mmsghdr>::uninit() }; BATCH];
        let names = slots.names.as_mut_ptr();
        for i in 0..BATCH {
            let iov = iovs[i].write(libc::iovec { iov_base: slots.buf[i * slot..].as_mut_ptr().cast(), iov_len: slot });
            // SAFETY: all-zero is a valid mmsghdr (no control data, no flags).
            let mut h: libc::mmsghdr = unsafe { zeroed() };
            // `names` has BATCH entries: `i` stays in bounds.
            h.msg_hdr.msg_name = names.wrapping_add(i).cast();
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
            hdrs[i].write(h);
        }
        // SAFETY: all BATCH headers are initialised and point at live buffers owned by this
        // frame or `slots`, each iovec within `slots.buf`; the kernel writes at most iov_len /
        // msg_namelen bytes.
        let n = unsafe {
            libc::recvmmsg(sock.as_raw_fd(), hdrs.as_mut_ptr().cast(), BATCH as libc::c_uint, libc::MSG_DONTWAIT, std::ptr::null_mut())
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = (n as usize).min(BATCH);
        for (h, name) in hdrs.iter().zip(slots.names.iter()).take(n) {
            // SAFETY: initialised above (and updated by the kernel).
            let h = unsafe { h.assume_init_ref() };
            let trunc = h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            slots.meta.push((h.msg_len as usize, from_sockaddr(name, h.msg_hdr.msg_namelen), trunc));
        }
        Ok(n)
    }

    /// Sends `out[..]` (destination, bytes) with `sendmmsg`, at most `BATCH` per call; returns
    /// how many left. An error is returned only when the first datagram could not go.
    pub fn send_batch(sock: &impl AsRawFd, out: &[(SocketAddr, bytes::Bytes)]) -> io::Result<usize> {
        let count = out.len().min(BATCH);
        if count == 0 {
            return Ok(0);
        }
        // Only the `count` entries used are written (usually one at low load): zeroing the
        // whole 6.6 KB of arrays per call was ~4% of the instructions at 200 REGISTER/s.
        let mut names = [const { MaybeUninit::<libc::sockaddr_storage>::uninit() }; BATCH];
        let mut iovs = [const { MaybeUninit::<libc::iovec>::uninit() }; BATCH];
        let mut hdrs = [const { MaybeUninit::<libc::mmsghdr>::uninit() }; BATCH];
        for (i, (dest, data)) in out.iter().take(count).enumerate() {
            // SAFETY: all-zero is a valid sockaddr_storage and mmsghdr (plain C structs).
            let name = names[i].write(unsafe { zeroed() });
            let namelen = to_sockaddr(dest, name);
            // The kernel only reads through iov_base for a send; the cast to *mut is the API's.
            let iov = iovs[i].write(libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() });
            let mut h: libc::mmsghdr = unsafe { zeroed() };
            h.msg_hdr.msg_name = (name as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = namelen;
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
            hdrs[i].write(h);
        }
        // SAFETY: `count` headers point at live addresses and at the `Bytes` in `out`, which
        // outlive the call; the kernel does not write to the payloads.
        let n = unsafe { libc::sendmmsg(sock.as_raw_fd(), hdrs.as_mut_ptr().cast(), count as libc::c_uint, libc::MSG_DONTWAIT) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::*;

    /// One `recv_from` per datagram (no `recvmmsg` on this system).
    pub fn recv_batch(sock: &std::net::UdpSocket, slots: &mut RecvSlots) -> io::Result<usize> {
        slots.meta.clear();
        let slot = slots.slot;
        for i in 0..BATCH {
            match sock.recv_from(&mut slots.buf[i * slot..(i + 1) * slot]) {
                Ok((len, from)) => slots.meta.push((len, Some(from), false)),
                Err(e) if i == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(slots.meta.len())
    }

    /// One `send_to` per datagram (no `sendmmsg` on this system).
    pub fn send_batch(sock: &std::net::UdpSocket, out: &[(SocketAddr, bytes::Bytes)]) -> io::Result<usize> {
        for (i, (dest, data)) in out.iter().take(BATCH).enumerate() {
            if let Err(e) = sock.send_to(data, *dest) {
                return if i == 0 { Err(e) } else { Ok(i) };
            }
        }
        Ok(out.len().min(BATCH))
    }
}

pub use imp::{recv_batch, send_batch};

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn a_burst_goes_out_and_comes_back_in_one_call_each() {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        let to = b.local_addr().unwrap();
        let out: Vec<(SocketAddr, Bytes)> = (0..5).map(|i| (to, Bytes::from(format!("datagram {i}")))).collect();
        assert_eq!(send_batch(&a, &out).unwrap(), 5);
        let mut slots = RecvSlots::new(11);
        let mut got = Vec::new();
        for _ in 0..100 {
            match recv_batch(&b, &mut slots) {
                Ok(n) => {
                    for i in 0..n {
                        let (data, from, trunc) = slots.get(i).unwrap();
                        assert_eq!(from, Some(a.local_addr().unwrap()));
                        got.push((String::from_utf8_lossy(data).into_owned(), trunc));
                    }
                    if got.len() == 5 {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(std::time::Duration::from_millis(5)),
                Err(e) => panic!("{e}"),
            }
        }
        let want: Vec<(String, bool)> = (0..5).map(|i| (format!("datagram {i}"), false)).collect();
        assert_eq!(got, want);
        // A datagram longer than the slot is reported as cut, never silently shortened.
        send_batch(&a, &[(to, Bytes::from_static(b"0123456789ABCDEF"))]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(recv_batch(&b, &mut slots).unwrap(), 1);
        let (data, _, trunc) = slots.get(0).unwrap();
        assert!(trunc);
        assert_eq!(data.len(), 12);
        // Nothing queued: WouldBlock, as from recv_from.
        assert_eq!(recv_batch(&b, &mut slots).unwrap_err().kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn ipv6_addresses_round_trip() {
        let Ok(a) = std::net::UdpSocket::bind("[::1]:0") else { return };
        let b = std::net::UdpSocket::bind("[::1]:0").unwrap();
        b.set_nonblocking(true).unwrap();
        send_batch(&a, &[(b.local_addr().unwrap(), Bytes::from_static(b"v6"))]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut slots = RecvSlots::new(100);
        assert_eq!(recv_batch(&b, &mut slots).unwrap(), 1);
        assert_eq!(slots.get(0).unwrap().1, Some(a.local_addr().unwrap()));
    }
}
