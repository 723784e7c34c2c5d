//! Where received UDP datagrams are copied to: consecutive small datagrams share one 4 KiB
//! buffer (`DatagramArena::copy`), each handed on as its own `Bytes`.
//!
//! Why: `Bytes::copy_from_slice` per datagram cost two allocations and two frees — the copy
//! itself, then the shared header `bytes` adds when the parser first clones the datagram to
//! slice its header values from it — the allocator's largest share of urpd's samples at the
//! REGISTER top (docs/benchmarks.md, twenty-fifth round). Here a chunk and its shared header
//! are allocated once for the ~7 REGISTERs that fit in it, and a clone is only a reference
//! count.
//!
//! The price is retention: a chunk is freed when the last datagram in it is dropped, so one
//! datagram kept long keeps its neighbours' bytes too. The chunk is small for that reason
//! (a kept datagram holds at most 4 KiB), a datagram over half a chunk gets a buffer of its
//! own, and what urpd keeps for long — a proxied call's Request-URI for the 32 s of Timer L —
//! is copied out of the datagram when the call is answered (`ProxyCall::release`).

use bytes::{Bytes, BytesMut};

/// Size of one shared buffer.
const CHUNK: usize = 4096;

/// Datagrams larger than this get a buffer of their own (they would waste most of a chunk).
const OWN_BUFFER_OVER: usize = CHUNK / 2;

/// The buffer the next datagrams are copied into.
#[derive(Default)]
pub struct DatagramArena {
    cur: BytesMut,
}

impl DatagramArena {
    /// A copy of `data` that owns (a share of) its buffer.
    pub fn copy(&mut self, data: &[u8]) -> Bytes {
        if data.len() > OWN_BUFFER_OVER {
            return Bytes::copy_from_slice(data);
        }
        // `split` leaves `cur` holding the rest of the chunk's capacity: a new chunk only when
        // this datagram does not fit there (never a reallocation of a shared chunk).
        if self.cur.capacity() - self.cur.len() < data.len() {
            self.cur = BytesMut::with_capacity(CHUNK);
        }
        self.cur.extend_from_slice(data);
        self.cur.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_exact_and_independent() {
        let mut a = DatagramArena::default();
        let msgs: Vec<Vec<u8>> = (0..40).map(|i| vec![b'a' + (i % 26) as u8; 100 + i * 37]).collect();
        let copies: Vec<Bytes> = msgs.iter().map(|m| a.copy(m)).collect();
        for (m, c) in msgs.iter().zip(&copies) {
            assert_eq!(&c[..], &m[..]);
        }
        // Dropping some copies leaves the others intact (shared chunks are reference counted).
        let kept: Vec<Bytes> = copies.into_iter().step_by(3).collect();
        for (m, c) in msgs.iter().step_by(3).zip(&kept) {
            assert_eq!(&c[..], &m[..]);
        }
    }

    #[test]
    fn small_datagrams_share_a_chunk_and_large_ones_do_not() {
        let mut a = DatagramArena::default();
        let x = a.copy(&[1u8; 500]);
        let y = a.copy(&[2u8; 500]);
        // Adjacent in one buffer: the second starts where the first ends.
        assert_eq!(x.as_ptr().wrapping_add(500), y.as_ptr());
        let big = a.copy(&[3u8; OWN_BUFFER_OVER + 1]);
        assert_eq!(big.len(), OWN_BUFFER_OVER + 1);
        let z = a.copy(&[4u8; 500]);
        // The large one did not use the chunk: the next small one follows `y`.
        assert_eq!(y.as_ptr().wrapping_add(500), z.as_ptr());
        // A chunk that cannot hold the next datagram is left to its holders.
        let mut n = 0;
        let mut last = z;
        loop {
            let next = a.copy(&[5u8; 500]);
            n += 1;
            if next.as_ptr() != last.as_ptr().wrapping_add(500) {
                break;
            }
            last = next;
        }
        assert!(n <= CHUNK / 500);
        assert_eq!(&x[..], &[1u8; 500][..]);
    }

    #[test]
    fn an_empty_datagram_is_an_empty_copy() {
        let mut a = DatagramArena::default();
        assert!(a.copy(&[]).is_empty());
        assert_eq!(&a.copy(b"OPTIONS")[..], b"OPTIONS");
    }
}
