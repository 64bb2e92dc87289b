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
    // Encapsulations, at any depth (crate::tunnel).
    TooManyLayers => "", "too_many_layers";
    ChdlcTooSmall => "chdlc", "pkt_too_small";
    EtagTooSmall => "etag", "header_too_small";
    VntagTooSmall => "vntag", "header_too_small";
    NshTooSmall => "nsh", "header_too_small";
    NshUnsupportedVersion => "nsh", "unsupported_version";
    NshBadHeaderLength => "nsh", "bad_header_length";
    NshReservedType => "nsh", "reserved_type";
    NshUnsupportedType => "nsh", "unsupported_type";
    NshUnknownPayload => "nsh", "unknown_payload";
    MplsHeaderTooSmall => "mpls", "header_too_small";
    MplsPktTooSmall => "mpls", "pkt_too_small";
    MplsBadLabelRouterAlert => "mpls", "bad_label_router_alert";
    MplsBadLabelImplicitNull => "mpls", "bad_label_implicit_null";
    MplsBadLabelReserved => "mpls", "bad_label_reserved";
    MplsUnknownPayloadType => "mpls", "unknown_payload_type";
    PppoeTooSmall => "pppoe", "pkt_too_small";
    PppoeWrongCode => "pppoe", "wrong_code";
    PppoeMalformedTags => "pppoe", "malformed_tags";
    PppTooSmall => "ppp", "pkt_too_small";
    PppVjuTooSmall => "ppp", "vju_pkt_too_small";
    PppIpv4TooSmall => "ppp", "ip4_pkt_too_small";
    PppIpv6TooSmall => "ppp", "ip6_pkt_too_small";
    PppUnsupProto => "ppp", "unsup_proto";
    GreTooSmall => "gre", "pkt_too_small";
    GreWrongVersion => "gre", "wrong_version";
    GreV0Recur => "gre", "version0_recur";
    GreV0Flags => "gre", "version0_flags";
    GreV0HdrTooBig => "gre", "version0_hdr_too_big";
    GreV0MalformedSre => "gre", "version0_malformed_sre_hdr";
    GreV1Chksum => "gre", "version1_chksum";
    GreV1Route => "gre", "version1_route";
    GreV1Ssr => "gre", "version1_ssr";
    GreV1Recur => "gre", "version1_recur";
    GreV1Flags => "gre", "version1_flags";
    GreV1NoKey => "gre", "version1_no_key";
    GreV1WrongProtocol => "gre", "version1_wrong_protocol";
    GreV1HdrTooBig => "gre", "version1_hdr_too_big";
    ErspanTooSmall => "erspan", "header_too_small";
    ErspanUnsupportedVersion => "erspan", "unsupported_version";
    ErspanTooManyVlanLayers => "erspan", "too_many_vlan_layers";
    VxlanUnknownPayloadType => "vxlan", "unknown_payload_type";
    GeneveUnknownPayloadType => "geneve", "unknown_payload_type";
    Ipv4InIpv6TooSmall => "ipv6", "ipv4_in_ipv6_too_small";
    Ipv4InIpv6WrongVersion => "ipv6", "ipv4_in_ipv6_wrong_version";
    Ipv6InIpv6TooSmall => "ipv6", "ipv6_in_ipv6_too_small";
    Ipv6InIpv6WrongVersion => "ipv6", "ipv6_in_ipv6_wrong_version";
}

impl DecodeEvent {
    /// `layer.name`, as Suricata writes it in `anomaly.event`.
    pub fn qualified(self) -> String {
        if self.layer().is_empty() {
            self.name().to_owned()
        } else {
            format!("{}.{}", self.layer(), self.name())
        }
    }

    /// The event as Suricata names it in `anomaly.event`: `decoder.<layer>.<name>`,
    /// or `decoder.<name>` for the engine-wide ones (`too_many_layers`).
    pub fn anomaly_name(self) -> String {
        format!("decoder.{}", self.qualified())
    }

    /// Its `stats` counter: `decoder.event.<layer>.<name>`, except the
    /// engine-wide `too_many_layers`, which Suricata counts as
    /// `decoder.too_many_layers`.
    pub fn counter_name(self) -> String {
        if self.layer().is_empty() {
            format!("decoder.{}", self.name())
        } else {
            format!("decoder.event.{}.{}", self.layer(), self.name())
        }
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
