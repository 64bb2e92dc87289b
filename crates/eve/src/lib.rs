//! Suricata-compatible EVE JSON for fumidai: record types, serialisation
//! into line batches, and the outputs that write them.

pub mod app;
pub mod conf;
mod fastser;
pub mod identity;
pub mod json;
pub mod objects;
pub mod output;
pub mod read;
pub mod record;
pub mod sink;
pub mod spool;
pub mod stats;
pub mod time;

pub use record::{ChainLink, EveBatch, EventType, Header, Record, TunnelObj, Vlan, proto_name};
pub use stats::Counters;
pub use time::EveTime;

/// Text that fumidai writes from a fixed vocabulary (`"allowed"`, a
/// signature's message, `"connect"`) and that a reader of EVE gets back as
/// whatever the line held: borrowed when written, owned when read.
pub type Label = std::borrow::Cow<'static, str>;

/// Masks a flow id to 51 bits: JSON consumers that read numbers as IEEE
/// doubles (JavaScript, Elasticsearch's `double`) lose precision above 2^53;
/// Suricata masks the same way.
pub fn mask_flow_id(id: u64) -> u64 {
    id & 0x0007_ffff_ffff_ffff
}
