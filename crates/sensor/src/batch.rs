//! Batches: many packets in one buffer, the unit the capture thread hands
//! to a worker. Batches are recycled, so the packet path allocates nothing
//! once the pool has warmed up.

use fumidai_engine::Part;
use fumidai_flow::EndReason;
use fumidai_wire::{LinkType, Timestamp};

/// Where one packet sits in a batch.
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
    /// The capture thread's packet-time clock when the batch was sent: the
    /// worker's clock advances to it after the packets.
    pub clock: Timestamp,
}

impl Batch {
    pub fn with_capacity(bytes: usize, pkts: usize) -> Self {
        Batch {
            data: Vec::with_capacity(bytes),
            pkts: Vec::with_capacity(pkts),
            clock: Timestamp::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pkts.is_empty()
    }

    pub fn clear(&mut self) {
        self.data.clear();
        self.pkts.clear();
    }

    /// Appends a packet. The caller checks capacity first; the buffer grows
    /// if a packet is larger than a whole batch.
    pub fn push(&mut self, frame: &[u8], wire_len: u32, ts: Timestamp, link: LinkType, part: Part) {
        let off = self.data.len() as u32;
        self.data.extend_from_slice(frame);
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
        self.pkts.iter().map(|m| {
            let start = m.off as usize;
            (m, &self.data[start..start + m.caplen as usize])
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
    /// Validate checksums from here on (or not: the next file shows
    /// checksum offloading).
    Checksums(bool),
}
