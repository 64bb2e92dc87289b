//! Packet views for fumidai: link layers, tunnels and encapsulations,
//! IPv4/IPv6, TCP/UDP/ICMP, flow keys, the capture thread's shard hash,
//! Community ID and IP defragmentation.
//!
//! Everything here borrows from the captured bytes; nothing allocates per
//! packet except the defragmenter, which must keep fragments until their
//! datagram is whole.

#![forbid(unsafe_code)]

pub mod checksum;
pub mod community_id;
pub mod decode;
pub mod defrag;
mod direction;
pub mod event;
pub mod ipfmt;
pub mod key;
pub mod link;
pub mod segments;
pub mod time;
pub mod tunnel;

pub use decode::{
    Decoded, Fragment, Icmp, L4, Packet, Tcp, TcpFlags, Udp, decode, decode_reassembled,
    decode_transport,
};
pub use direction::Direction;
pub use event::DecodeEvent;
pub use key::{Endpoint, FlowKey, Side};
pub use link::LinkType;
pub use time::Timestamp;
pub use tunnel::{Decap, DecoderConfig, Encap, PktSrc};
