//! Batches: many packets in one buffer, the unit the capture thread hands
//! to a worker. Batches are recycled, so the packet path allocates nothing
//! once the pool has warmed up. A batch of a memory-mapped capture file
//! holds no bytes of its own: only where its packets lie in a window of the
//! map, which it keeps mapped until the worker is done with it.

use std::sync::Arc;

use fumidai_engine::Part;
use fumidai_flow::EndReason;
use fumidai_wire::{LinkType, Timestamp};

use crate::reader::Window;

/// Where one packet sits in a batch (in `data`, or in `window`).
#[derive(Clone, Copy, Debug)]
pub struct PktMeta {
    pub off: u32,
    pub caplen: u32,
    pub wire_len: u32,
    pub ts: Timestamp,
    pub link: LinkType,
    /// What of the frame this worker handles (a tunnelled frame may go to
    /// two workers).
    pub part: Part,
}

/// Packets for one worker.
#[derive(Debug, Default)]
pub struct Batch {
    pub data: Vec<u8>,
    pub pkts: Vec<PktMeta>,
    /// Packet bytes in the batch, wherever they lie.
    pub bytes: usize,
    /// The mapped window the packets lie in, instead of `data`.
    pub window: Option<Arc<Window>>,
    /// The capture thread's packet-time clock when the batch was sent: the
    /// worker's clock advances to it after the packets.
    pub clock: Timestamp,
}

impl Batch {
    /// A batch with room for `pkts` packets; its byte buffer grows on
    /// first use (a batch of mapped packets never needs one).
    pub fn with_capacity(pkts: usize) -> Self {
        Batch {
            data: Vec::new(),
            pkts: Vec::with_capacity(pkts),
            bytes: 0,
            window: None,
            clock: Timestamp::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pkts.is_empty()
    }

    /// Empties the batch; its window, if any, is let go (and unmapped once
    /// no other batch points into it).
    pub fn clear(&mut self) {
        self.data.clear();
        self.pkts.clear();
        self.bytes = 0;
        self.window = None;
    }

    /// True when a packet from `window` (`None`: a copied one) can join.
    pub fn accepts(&self, window: Option<&Arc<Window>>) -> bool {
        self.pkts.is_empty()
            || match (&self.window, window) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }

    /// Appends a packet, copying its bytes, or (from a mapped `window`,
    /// which [`accepts`](Self::accepts) agreed to) noting where it lies.
    /// The caller checks capacity first; the buffer grows if a packet is
    /// larger than a whole batch.
    pub fn push(
        &mut self,
        frame: &[u8],
        window: Option<&Arc<Window>>,
        wire_len: u32,
        ts: Timestamp,
        link: LinkType,
        part: Part,
    ) {
        let off = match window {
            Some(w) => {
                if self.window.is_none() {
                    self.window = Some(Arc::clone(w));
                }
                // Within the window, by how the reader made the view.
                (frame.as_ptr() as usize - w.as_ptr() as usize) as u32
            }
            None => {
                if self.data.capacity() == 0 {
                    self.data.reserve(crate::capture::BATCH_BYTES);
                }
                let off = self.data.len() as u32;
                self.data.extend_from_slice(frame);
                off
            }
        };
        self.bytes += frame.len();
        self.pkts.push(PktMeta {
            off,
            caplen: frame.len() as u32,
            wire_len,
            ts,
            link,
            part,
        });
    }

    /// The packets, each with its bytes.
    pub fn iter(&self) -> impl Iterator<Item = (&PktMeta, &[u8])> {
        let base: &[u8] = match &self.window {
            Some(w) => w,
            None => &self.data,
        };
        self.pkts.iter().map(move |m| {
            let start = m.off as usize;
            (m, &base[start..start + m.caplen as usize])
        })
    }
}

/// What the capture thread tells a worker.
#[derive(Debug)]
pub enum ToWorker {
    Packets(Batch),
    /// Packet time moved on: expire flows up to here.
    Tick(Timestamp),
    /// Report counters for stats event number `seq`, stamped `ts`.
    Stats {
        seq: u64,
        ts: Timestamp,
    },
    /// End all flows now (time ran backwards between capture files).
    EndAll(EndReason),
    /// A capture file ended and another follows, or packet time paused:
    /// finish what came before with the other workers before going on
    /// (crate::rendezvous).
    Sync,
    /// Validate checksums from here on (or not: the next file shows
    /// checksum offloading).
    Checksums(bool),
}
