//! Flows for fumidai: the per-worker flow table with packet-time timeouts
//! and bounded size, TCP session tracking and stream reassembly.
//!
//! Nothing here knows about application protocols: reassembled bytes leave
//! through the [`stream::Receiver`] / [`tcp::SessionReceiver`] traits.

mod ring;
pub mod stream;
pub mod table;
pub mod tcp;

pub use stream::{Chunk, Memcap, OverlapPolicy, ReassemblyStats, StreamConfig, StreamEvent};
pub use table::{Class, EndReason, FlowRef, FlowTable, Timeouts};
pub use tcp::{TcpSession, TcpState, TcpStats};
