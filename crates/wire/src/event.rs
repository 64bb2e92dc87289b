//! Decoder events: why a packet could not be decoded, or what was wrong with
//! one that still was. Names follow Suricata's `decoder.event.<layer>.<name>`
//! counters so that dashboards built for Suricata read fumidai's stats;
//! the few Suricata lacks (`frag_overlap_diff`, `frag_tiny_first`,
//! `frag_header_rewrite`, `frag_proto_mismatch`) are declared in the overlay schema.

macro_rules! decode_events {
    ($($variant:ident => $layer:literal, $name:literal;)*) => {
        /// A decoding anomaly.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DecodeEvent {
            $($variant,)*
        }

        impl DecodeEvent {
            /// Every event, in declaration order (`e as usize` indexes it).
            pub const ALL: &'static [DecodeEvent] = &[$(DecodeEvent::$variant,)*];

            /// The protocol layer, e.g. `ipv4`.
            pub fn layer(self) -> &'static str {
                match self { $(DecodeEvent::$variant => $layer,)* }
            }

            /// The event's name within its layer, e.g. `trunc_pkt`.
            pub fn name(self) -> &'static str {
                match self { $(DecodeEvent::$variant => $name,)* }
            }
        }
    };
}

decode_events! {
    EthernetTooSmall => "ethernet", "pkt_too_small";
    VlanTooSmall => "vlan", "header_too_small";
    VlanTooManyLayers => "vlan", "too_many_layers";
    SllTooSmall => "sll", "pkt_too_small";
    Sll2TooSmall => "sll2", "pkt_too_small";
    NullTooSmall => "ltnull", "pkt_too_small";
    NullUnsupportedType => "ltnull", "unsupported_type";
    RawInvalidVersion => "ipraw", "invalid_ip_version";
    Ipv4TooSmall => "ipv4", "pkt_too_small";
    Ipv4HlenTooSmall => "ipv4", "hlen_too_small";
    Ipv4IplenSmallerThanHlen => "ipv4", "iplen_smaller_than_hlen";
    Ipv4Trunc => "ipv4", "trunc_pkt";
    Ipv4WrongVersion => "ipv4", "wrong_ip_version";
    Ipv4OptMalformed => "ipv4", "opt_malformed";
    Ipv4FragTooLarge => "ipv4", "frag_pkt_too_large";
    Ipv4FragOverlap => "ipv4", "frag_overlap";
    Ipv4FragIgnored => "ipv4", "frag_ignored";
    Ipv4FragOverlapDiff => "ipv4", "frag_overlap_diff";
    Ipv4FragTinyFirst => "ipv4", "frag_tiny_first";
    Ipv4FragHeaderRewrite => "ipv4", "frag_header_rewrite";
    Ipv4FragProtoMismatch => "ipv4", "frag_proto_mismatch";
    Ipv6TooSmall => "ipv6", "pkt_too_small";
    Ipv6Trunc => "ipv6", "trunc_pkt";
    Ipv6TruncExthdr => "ipv6", "trunc_exthdr";
    Ipv6WrongVersion => "ipv6", "wrong_ip_version";
    Ipv6HopByHopNotFirst => "ipv6", "exthdr_dupl_hh";
    Ipv6FragTooLarge => "ipv6", "frag_pkt_too_large";
    Ipv6FragOverlap => "ipv6", "frag_overlap";
    Ipv6FragIgnored => "ipv6", "frag_ignored";
    Ipv6FragInvalidLength => "ipv6", "frag_invalid_length";
    Ipv6FragOverlapDiff => "ipv6", "frag_overlap_diff";
    Ipv6FragTinyFirst => "ipv6", "frag_tiny_first";
    Ipv6FragHeaderRewrite => "ipv6", "frag_header_rewrite";
    Ipv6FragProtoMismatch => "ipv6", "frag_proto_mismatch";
    TcpTooSmall => "tcp", "pkt_too_small";
    TcpHlenTooSmall => "tcp", "hlen_too_small";
    UdpTooSmall => "udp", "pkt_too_small";
    UdpLenInvalid => "udp", "len_invalid";
    Icmpv4TooSmall => "icmpv4", "pkt_too_small";
    Icmpv6TooSmall => "icmpv6", "pkt_too_small";
}

impl DecodeEvent {
    /// `layer.name`, as Suricata writes it in `anomaly.event`.
    pub fn qualified(self) -> String {
        format!("{}.{}", self.layer(), self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::DecodeEvent;

    #[test]
    fn all_is_in_discriminant_order() {
        for (i, e) in DecodeEvent::ALL.iter().enumerate() {
            assert_eq!(*e as usize, i);
        }
    }
}
