//! A worker's counters. Plain fields, bumped on the packet path without
//! locks or lookups; turned into Suricata-named `stats` counters only when a
//! stats event or the end-of-run summary asks for them.

use fumidai_budget::MemReport;
use fumidai_eve::Counters;
use fumidai_flow::TcpStats;
use fumidai_wire::defrag::DefragStats;
use fumidai_wire::{DecodeEvent, Encap, LinkType};

#[derive(Clone, Debug)]
pub struct WorkerCounters {
    pub pkts: u64,
    pub bytes: u64,
    pub invalid: u64,
    pub max_pkt_size: u64,
    pub link: [u64; 6],
    /// Encapsulation layers peeled off, by [`Encap`].
    pub encap: [u64; Encap::ALL.len()],
    pub vlan: u64,
    pub vlan_qinq: u64,
    pub ipv4: u64,
    pub ipv6: u64,
    pub tcp: u64,
    pub udp: u64,
    pub icmpv4: u64,
    pub icmpv6: u64,
    pub arp: u64,
    pub unknown_ethertype: u64,
    pub decode_events: Vec<u64>,

    pub flow_total: u64,
    pub flow_tcp: u64,
    pub flow_udp: u64,
    pub flow_icmpv4: u64,
    pub flow_icmpv6: u64,
    pub flow_timeout: u64,
    pub flow_evicted: u64,
    pub flow_tcp_reuse: u64,
    pub flow_end_new: u64,
    pub flow_end_established: u64,
    pub flow_end_closed: u64,

    pub tcp_stats: TcpStats,
    pub defrag: DefragStats,

    /// Decoder and stream anomalies logged.
    pub anomalies: u64,

    /// Packets ignored for a bad checksum, by layer (TCP's are in `tcp_stats`).
    pub bad_checksum_ipv4: u64,
    pub bad_checksum_udp: u64,
    pub bad_checksum_icmp: u64,
}

impl Default for WorkerCounters {
    fn default() -> Self {
        WorkerCounters {
            pkts: 0,
            bytes: 0,
            invalid: 0,
            max_pkt_size: 0,
            link: [0; 6],
            encap: [0; Encap::ALL.len()],
            vlan: 0,
            vlan_qinq: 0,
            ipv4: 0,
            ipv6: 0,
            tcp: 0,
            udp: 0,
            icmpv4: 0,
            icmpv6: 0,
            arp: 0,
            unknown_ethertype: 0,
            decode_events: vec![0; DecodeEvent::ALL.len()],
            flow_total: 0,
            flow_tcp: 0,
            flow_udp: 0,
            flow_icmpv4: 0,
            flow_icmpv6: 0,
            flow_timeout: 0,
            flow_evicted: 0,
            flow_tcp_reuse: 0,
            flow_end_new: 0,
            flow_end_established: 0,
            flow_end_closed: 0,
            tcp_stats: TcpStats::default(),
            defrag: DefragStats::default(),
            anomalies: 0,
            bad_checksum_ipv4: 0,
            bad_checksum_udp: 0,
            bad_checksum_icmp: 0,
        }
    }
}

pub(crate) fn link_index(l: LinkType) -> usize {
    match l {
        LinkType::Ethernet => 0,
        LinkType::LinuxSll => 1,
        LinkType::LinuxSll2 => 2,
        LinkType::Raw => 3,
        LinkType::Null | LinkType::Loop => 4,
        LinkType::Chdlc => 5,
    }
}

const LINK_NAMES: [&str; 6] = [
    "decoder.ethernet",
    "decoder.sll",
    "decoder.sll2",
    "decoder.raw",
    "decoder.null",
    "decoder.chdlc",
];

impl WorkerCounters {
    /// The counters under Suricata's names (plus the overlay's additions).
    /// `active_flows` and the memory gauges are read from the worker.
    pub fn to_counters(
        &self,
        active_flows: usize,
        stream_memuse: usize,
        defrag_memuse: usize,
    ) -> Counters {
        let mut c = Counters::default();
        let d = |c: &mut Counters, k: &'static str, v: u64| c.add(k, v);
        d(&mut c, "decoder.pkts", self.pkts);
        d(&mut c, "decoder.bytes", self.bytes);
        d(&mut c, "decoder.invalid", self.invalid);
        c.max("decoder.max_pkt_size", self.max_pkt_size);
        for (i, n) in LINK_NAMES.iter().enumerate() {
            d(&mut c, n, self.link[i]);
        }
        for e in Encap::ALL {
            d(&mut c, e.counter_name(), self.encap[e as usize]);
        }
        d(&mut c, "decoder.vlan", self.vlan);
        d(&mut c, "decoder.vlan_qinq", self.vlan_qinq);
        d(&mut c, "decoder.ipv4", self.ipv4);
        d(&mut c, "decoder.ipv6", self.ipv6);
        d(&mut c, "decoder.tcp", self.tcp);
        d(&mut c, "decoder.udp", self.udp);
        d(&mut c, "decoder.icmpv4", self.icmpv4);
        d(&mut c, "decoder.icmpv6", self.icmpv6);
        d(&mut c, "decoder.arp", self.arp);
        d(&mut c, "decoder.unknown_ethertype", self.unknown_ethertype);
        d(
            &mut c,
            "decoder.checksum.ipv4_invalid",
            self.bad_checksum_ipv4,
        );
        d(
            &mut c,
            "decoder.checksum.tcp_invalid",
            self.tcp_stats.invalid_checksum,
        );
        d(
            &mut c,
            "decoder.checksum.udp_invalid",
            self.bad_checksum_udp,
        );
        d(
            &mut c,
            "decoder.checksum.icmp_invalid",
            self.bad_checksum_icmp,
        );
        for e in DecodeEvent::ALL {
            let n = self.decode_events[*e as usize];
            if n > 0 {
                c.add(e.counter_name(), n);
            }
        }

        d(&mut c, "flow.total", self.flow_total);
        d(&mut c, "flow.active", active_flows as u64);
        d(&mut c, "flow.tcp", self.flow_tcp);
        d(&mut c, "flow.udp", self.flow_udp);
        d(&mut c, "flow.icmpv4", self.flow_icmpv4);
        d(&mut c, "flow.icmpv6", self.flow_icmpv6);
        d(&mut c, "flow.memcap", self.flow_evicted);
        d(&mut c, "flow.tcp_reuse", self.flow_tcp_reuse);
        d(&mut c, "flow.mgr.flows_timeout", self.flow_timeout);
        d(&mut c, "flow.end.state.new", self.flow_end_new);
        d(
            &mut c,
            "flow.end.state.established",
            self.flow_end_established,
        );
        d(&mut c, "flow.end.state.closed", self.flow_end_closed);

        let t = &self.tcp_stats;
        let r = &t.reassembly;
        d(&mut c, "tcp.sessions", t.sessions);
        d(&mut c, "tcp.syn", t.syn);
        d(&mut c, "tcp.synack", t.synack);
        d(&mut c, "tcp.rst", t.rst);
        d(&mut c, "tcp.midstream_pickups", t.midstream_pickups);
        d(&mut c, "tcp.invalid_checksum", t.invalid_checksum);
        d(&mut c, "tcp.urg", t.urg);
        d(&mut c, "tcp.urgent_oob_data", r.urgent_oob_data);
        d(&mut c, "tcp.overlap", r.overlap);
        d(&mut c, "tcp.overlap_diff_data", r.overlap_diff_data);
        d(&mut c, "tcp.reassembly_gap", r.reassembly_gap);
        d(&mut c, "tcp.stream_depth_reached", r.stream_depth_reached);
        d(&mut c, "tcp.segment_memcap_drop", r.segment_memcap_drop);
        d(&mut c, "tcp.reassembly_memuse", stream_memuse as u64);
        // fumidai's additions (declared in the overlay schema).
        d(&mut c, "tcp.keepalive", t.keepalive);
        d(&mut c, "tcp.out_of_window", r.out_of_window);
        d(&mut c, "tcp.gap_forced_by_bounds", r.gap_forced_by_bounds);
        d(&mut c, "tcp.rst_invalid", t.rst_invalid);
        d(&mut c, "tcp.ttl_too_short", t.ttl_too_short);
        d(&mut c, "tcp.syn_data_ignored", t.syn_data_ignored);

        let f = &self.defrag;
        d(&mut c, "defrag.ipv4.fragments", f.v4_fragments);
        d(&mut c, "defrag.ipv4.reassembled", f.v4_reassembled);
        d(&mut c, "defrag.ipv4.timeouts", f.v4_timeouts);
        d(&mut c, "defrag.ipv6.fragments", f.v6_fragments);
        d(&mut c, "defrag.ipv6.reassembled", f.v6_reassembled);
        d(&mut c, "defrag.ipv6.timeouts", f.v6_timeouts);
        d(
            &mut c,
            "defrag.max_trackers_reached",
            f.max_trackers_reached,
        );
        d(&mut c, "defrag.memuse", defrag_memuse as u64);
        d(&mut c, "defrag.memcap_drop", f.memcap_drop);
        d(&mut c, "defrag.tracker_hard_reuse", f.tracker_hard_reuse);

        c
    }
}

/// Adds one structure's memory counters under `memcap.<name>.*`.
pub fn add_mem(c: &mut Counters, r: &MemReport) {
    let n = r.name;
    c.add(format!("memcap.{n}.memuse"), r.memuse);
    c.add(format!("memcap.{n}.memcap"), r.memcap);
    c.add(format!("memcap.{n}.refused"), r.refused);
    c.add(format!("memcap.{n}.evicted"), r.evicted);
    c.add(format!("memcap.{n}.expired"), r.expired);
    c.add(format!("memcap.{n}.entries"), r.entries);
}
