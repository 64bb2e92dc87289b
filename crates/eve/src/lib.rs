//! Suricata-compatible EVE JSON for fumidai: record types, serialisation
//! into line batches, and the outputs that write them.

pub mod app;
pub mod objects;
pub mod output;
pub mod record;
pub mod sink;
pub mod spool;
pub mod stats;
pub mod time;

pub use record::{EveBatch, EventType, Header, Record, TunnelObj, Vlan, proto_name};
pub use stats::Counters;
pub use time::EveTime;

/// Masks a flow id to 51 bits: JSON consumers that read numbers as IEEE
/// doubles (JavaScript, Elasticsearch's `double`) lose precision above 2^53;
/// Suricata masks the same way.
pub fn mask_flow_id(id: u64) -> u64 {
    id & 0x0007_ffff_ffff_ffff
}
