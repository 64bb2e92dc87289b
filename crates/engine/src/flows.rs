//! A flow as the engine keeps it, and its `flow` EVE record.

use fumidai_eve::objects::{FlowObj, TcpObj};
use fumidai_eve::{ChainLink, EveBatch, EveTime, EventType};
use fumidai_flow::table::TableEntry;
use fumidai_flow::{EndReason, TcpSession, TcpState};
use fumidai_proto::Direction;
use fumidai_wire::{FlowKey, Side, Timestamp};
use serde::Serialize;

use crate::app::App;
pub use crate::meta::{HopChain, Meta, State};
use crate::tunnel::FlowTunnel;

/// One flow. A TCP flow's session is a few dozen bytes until data arrives
/// (its buffers come with the first payload); the application layer is
/// allocated with the first payload too. Both are boxed so that a UDP or
/// ICMP flow pays for neither.
#[derive(Debug)]
pub struct Flow {
    pub meta: Meta,
    pub tcp: Option<Box<TcpSession>>,
    pub app: Option<Box<App>>,
}

impl TableEntry for Flow {
    fn key(&self) -> &FlowKey {
        &self.meta.key
    }
}

impl Flow {
    /// A flow; `tcp` is its session for TCP (with the receivers' overlap
    /// policies), `None` otherwise.
    pub fn new(
        key: FlowKey,
        client: Side,
        start: Timestamp,
        icmp: Option<(u8, u8)>,
        seed: u16,
        tcp: Option<Box<TcpSession>>,
    ) -> Self {
        Flow {
            meta: Meta {
                key,
                client,
                start,
                last: start,
                pkts: [0; 2],
                bytes: [0; 2],
                state: State::New,
                icmp,
                icmp_reply: None,
                alerted: false,
                seed,
                app_proto: None,
                tunnel: None,
                tunnel_chain: None,
            },
            tcp,
            app: None,
        }
    }

    /// The application layer, allocated on first use.
    pub fn app(&mut self) -> &mut App {
        self.app.get_or_insert_with(Box::default)
    }

    /// Heap bytes the flow owns outside the reassembly and application
    /// memcaps (the flow table's accounting).
    pub fn heap_bytes(&self) -> usize {
        self.tcp
            .as_ref()
            .map_or(0, |t| std::mem::size_of::<TcpSession>() + t.heap_bytes())
            + self.app.as_ref().map_or(0, |_| std::mem::size_of::<App>())
            + self
                .meta
                .tunnel
                .as_ref()
                .map_or(0, |_| std::mem::size_of::<FlowTunnel>())
            + self.meta.tunnel_chain.as_ref().map_or(0, |c| {
                std::mem::size_of::<HopChain>()
                    + c.links.capacity() * std::mem::size_of::<ChainLink>()
                    + c.links.iter().map(|l| l.target.capacity()).sum::<usize>()
            })
    }

    /// Updates `state` from the TCP session, or from having seen both
    /// directions for other protocols.
    pub fn update_state(&mut self) {
        self.meta.state = match &self.tcp {
            Some(t) => match t.state {
                TcpState::None | TcpState::SynSent | TcpState::SynRecv => State::New,
                TcpState::Established
                | TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::Closing
                | TcpState::CloseWait => State::Established,
                TcpState::LastAck | TcpState::TimeWait | TcpState::Closed => State::Closed,
            },
            None if self.meta.pkts[1] > 0 && self.meta.pkts[0] > 0 => State::Established,
            None => State::New,
        };
    }
}

#[derive(Serialize)]
struct FlowBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    app_proto_orig: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_icmp_code: Option<u8>,
    flow: FlowObj,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp: Option<TcpObj>,
}

impl FlowBody {
    /// Writes the fields as `Serialize` does, without serde (one record
    /// per flow: see `fumidai_eve::json`).
    fn write_fields(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        use fumidai_eve::json::{key, number, string};
        if let Some(o) = self.app_proto_orig {
            key(out, "app_proto_orig");
            string(out, o)?;
        }
        if let Some(t) = self.response_icmp_type {
            key(out, "response_icmp_type");
            number(out, t);
        }
        if let Some(c) = self.response_icmp_code {
            key(out, "response_icmp_code");
            number(out, c);
        }
        key(out, "flow");
        self.flow.write_json(out);
        if let Some(t) = &self.tcp {
            key(out, "tcp");
            t.write_json(out);
        }
        Ok(())
    }
}

/// Writes the `flow` record of a flow that ended for `reason`. Its time is
/// the flow's last packet: the same whichever sweep noticed the timeout.
pub fn write_flow_record(out: &mut EveBatch, flow: &Flow, reason: EndReason) {
    let m = &flow.meta;
    let body = flow_body(flow, reason);
    out.push_fields(&m.header(m.last, EventType::Flow), |o| body.write_fields(o));
}

fn flow_body(flow: &Flow, reason: EndReason) -> FlowBody {
    let m = &flow.meta;
    FlowBody {
        app_proto_orig: m.tunnel_chain.as_ref().map(|c| c.orig),
        response_icmp_type: m.icmp_reply.map(|r| r.0),
        response_icmp_code: m.icmp_reply.map(|r| r.1),
        flow: FlowObj {
            pkts_toserver: m.pkts[0],
            pkts_toclient: m.pkts[1],
            bytes_toserver: m.bytes[0],
            bytes_toclient: m.bytes[1],
            start: EveTime(m.start),
            end: EveTime(m.last),
            age: m.last.secs().saturating_sub(m.start.secs()),
            state: m.state.as_str(),
            reason: reason.as_str(),
            alerted: m.alerted,
        },
        tcp: flow.tcp.as_ref().map(|t| {
            TcpObj::new(
                t.flags[0],
                t.flags[1],
                t.state.as_str(),
                t.had_gap(Direction::ToServer),
                t.had_gap(Direction::ToClient),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use fumidai_eve::objects::{FlowObj, TcpObj};
    use fumidai_eve::{EveBatch, EveTime, EventType, Header, Record};
    use fumidai_wire::Timestamp;
    use proptest::prelude::*;

    proptest! {
        /// The flow record's own writer against serde's, with and without
        /// the optional parts.
        #[test]
        fn flow_fields_write_as_serde_does(n in any::<[u64; 3]>(), icmp in proptest::option::of(any::<(u8, u8)>()),
                                          orig in any::<bool>(), tcp in proptest::option::of(any::<(u8, u8, bool)>())) {
            let body = super::FlowBody {
                app_proto_orig: orig.then_some("http"),
                response_icmp_type: icmp.map(|i| i.0),
                response_icmp_code: icmp.map(|i| i.1),
                flow: FlowObj {
                    pkts_toserver: n[0],
                    pkts_toclient: n[1],
                    bytes_toserver: n[2],
                    bytes_toclient: 0,
                    start: EveTime(Timestamp(n[0] % 1_000_000_000_000_000)),
                    end: EveTime(Timestamp(n[1] % 1_000_000_000_000_000)),
                    age: n[2] % 1000,
                    state: "closed",
                    reason: "timeout",
                    alerted: orig,
                },
                tcp: tcp.map(|(ts, tc, gap)| TcpObj::new(ts, tc, "closed", gap, !gap)),
            };
            let header = Header::new(EveTime(Timestamp(n[0])), EventType::Flow);
            let mut fast = EveBatch::default();
            fast.push_fields(&header, |o| body.write_fields(o));
            let mut reference = EveBatch::default();
            reference.push(&Record { header, body });
            prop_assert_eq!(String::from_utf8(fast.bytes).unwrap(), String::from_utf8(reference.bytes).unwrap());
        }
    }

    /// A flood of forged flows costs a table slot each (plus, for TCP, the
    /// session's small box): keep them small. The per-flow figures the
    /// benchmark measures (`scripts/bench.sh`) rest on these.
    #[test]
    fn a_flow_stays_small() {
        use std::mem::size_of;
        let slot = fumidai_flow::FlowTable::<super::Flow>::slot_bytes();
        assert!(slot <= 192, "table slot {slot} bytes");
        assert!(size_of::<fumidai_flow::TcpSession>() <= 96);
    }
}
