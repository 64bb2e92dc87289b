//! The `anomaly.event` of an application-layer anomaly: Suricata's name for
//! the same event where Suricata has one (SIEM rules match on them), else
//! fumidai's own, `<proto>.<event>` in lower case (Suricata's are upper
//! case, so the two cannot be confused). docs/eve.md lists both.

/// Events whose fumidai name is not Suricata's name in lower case:
/// (protocol, fumidai's, Suricata's).
const RENAMED: &[(&str, &str, &str)] = &[
    // Suricata's DNS parser (Rust) names its events in lower case.
    ("dns", "invalid_opcode", "invalid_opcode"),
    ("http", "invalid_request_line", "REQUEST_LINE_INVALID"),
    (
        "http",
        "response_without_request",
        "UNABLE_TO_MATCH_RESPONSE_TO_REQUEST",
    ),
    (
        "smtp",
        "unexpected_reply",
        "UNABLE_TO_MATCH_REPLY_WITH_REQUEST",
    ),
    // A line over the limit, cut, either direction (app-layer-smtp.c).
    ("smtp", "line_too_long", "TRUNCATED_LINE"),
];

/// Suricata's app-layer event names (its app-layer-htp.c and
/// app-layer-smtp.c event tables) that fumidai's parsers name the same,
/// in lower case, or may come to.
const SURICATA: &[(&str, &[&str])] = &[
    (
        "http",
        &[
            "REQUEST_LINE_MISSING_PROTOCOL",
            "REQUEST_FIELD_MISSING_COLON",
            "RESPONSE_FIELD_MISSING_COLON",
            "MISSING_HOST_HEADER",
            "REQUEST_HEADER_REPETITION",
            "RESPONSE_HEADER_REPETITION",
            "ABNORMAL_CE_HEADER",
        ],
    ),
    (
        "smtp",
        &[
            "INVALID_REPLY",
            "MAX_COMMAND_LINE_LEN_EXCEEDED",
            "MAX_REPLY_LINE_LEN_EXCEEDED",
            "INVALID_PIPELINED_SEQUENCE",
            "BDAT_CHUNK_LEN_EXCEEDED",
            "INVALID_BDAT",
            "NO_SERVER_WELCOME_MESSAGE",
            "TLS_REJECTED",
            "DATA_COMMAND_REJECTED",
            "FAILED_PROTOCOL_CHANGE",
            "MIME_PARSE_FAILED",
            "MIME_INVALID_BASE64",
            "MIME_INVALID_QP",
            "MIME_LONG_LINE",
            "MIME_LONG_ENC_LINE",
            "MIME_LONG_HEADER_NAME",
            "MIME_LONG_HEADER_VALUE",
            "MIME_LONG_BOUNDARY",
            "MIME_LONG_FILENAME",
            "DUPLICATE_FIELDS",
            "UNPARSABLE_CONTENT",
            "TRUNCATED_LINE",
        ],
    ),
];

/// The `anomaly.event` of fumidai's `event` in `app_proto`.
pub fn applayer(app_proto: &str, event: &str) -> String {
    if let Some((_, _, s)) = RENAMED
        .iter()
        .find(|(p, f, _)| *p == app_proto && *f == event)
    {
        return (*s).to_owned();
    }
    let same = SURICATA
        .iter()
        .filter(|(p, _)| *p == app_proto)
        .flat_map(|(_, names)| names.iter())
        .find(|n| n.eq_ignore_ascii_case(event));
    match same {
        Some(n) => (*n).to_owned(),
        None => format!("{app_proto}.{event}"),
    }
}

#[cfg(test)]
mod tests {
    use super::applayer;

    #[test]
    fn suricata_names_where_suricata_has_the_event() {
        assert_eq!(applayer("smtp", "invalid_reply"), "INVALID_REPLY");
        assert_eq!(applayer("smtp", "line_too_long"), "TRUNCATED_LINE");
        assert_eq!(
            applayer("smtp", "unexpected_reply"),
            "UNABLE_TO_MATCH_REPLY_WITH_REQUEST"
        );
        assert_eq!(
            applayer("http", "request_line_missing_protocol"),
            "REQUEST_LINE_MISSING_PROTOCOL"
        );
        assert_eq!(
            applayer("http", "invalid_request_line"),
            "REQUEST_LINE_INVALID"
        );
        // fumidai's own events keep fumidai's names.
        assert_eq!(applayer("http", "gap"), "http.gap");
        assert_eq!(applayer("socks", "invalid_reply"), "socks.invalid_reply");
    }
}
