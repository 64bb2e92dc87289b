//! EVE serialisation, as the workers do it: records per second for an
//! alert carrying an http object and for a TCP flow record.

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use fumidai_eve::app::{HttpObj, HttpProxyObj};
use fumidai_eve::objects::{AlertObj, FlowObj, TcpObj};
use fumidai_eve::{EveBatch, EveTime, EventType, Header, Record, proto_name};
use fumidai_wire::Timestamp;
use serde::Serialize;

#[derive(Serialize)]
struct AlertBody {
    alert: AlertObj,
    http: HttpObj,
}

#[derive(Serialize)]
struct FlowBody {
    flow: FlowObj,
    tcp: TcpObj,
}

fn header(t: EventType, i: u64) -> Header<'static> {
    let mut h = Header::new(EveTime(Timestamp::from_secs(1_700_000_000 + i)), t);
    h.flow_id = Some(1_587_866_009_084_945 + i);
    h.src_ip = Some("192.0.2.10".parse().unwrap());
    h.src_port = Some(40000);
    h.dest_ip = Some("198.51.100.20".parse().unwrap());
    h.dest_port = Some(8080);
    h.proto = Some(proto_name(6));
    // Computed per record, as the engine does.
    h.community_id = Some(fumidai_wire::community_id::community_id(
        0,
        fumidai_wire::Endpoint {
            addr: "192.0.2.10".parse().unwrap(),
            port: 40000,
        },
        fumidai_wire::Endpoint {
            addr: "198.51.100.20".parse().unwrap(),
            port: 8080,
        },
        6,
    ));
    h.app_proto = Some("http");
    h
}

/// Serialises `n` records of `body` into one batch, as a worker does.
fn serialise<B: Serialize>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    t: EventType,
    body: &B,
    n: u64,
) {
    let mut batch = EveBatch::with_capacity(1 << 20);
    g.bench_function(name, |b| {
        b.iter(|| {
            batch.clear();
            for i in 0..n {
                batch.push(&Record {
                    header: header(t, i),
                    body,
                });
            }
            black_box(batch.len())
        })
    });
}

fn bench(c: &mut Criterion) {
    const N: u64 = 1000;
    let alert = AlertBody {
        alert: AlertObj {
            action: "allowed",
            gid: 1,
            signature_id: 9_700_002,
            rev: 1,
            signature: "FUMIDAI open proxy: HTTP CONNECT to an SMTP port (spam relay attempt)",
            category: "Attempted Information Leak",
            severity: 2,
        },
        http: HttpObj {
            hostname: Some("mail.example.net".into()),
            http_port: Some(25),
            url: Some("mail.example.net:25".into()),
            http_user_agent: Some("Mozilla/4.0 (compatible)".into()),
            http_method: Some("CONNECT".into()),
            protocol: Some("HTTP/1.1".into()),
            status: Some(200),
            length: Some(0),
            proxy: Some(HttpProxyObj {
                target_form: "authority",
                target_host: Some("mail.example.net".into()),
                target_port: Some(25),
                tunnel: true,
                ..HttpProxyObj::default()
            }),
            ..HttpObj::default()
        },
    };
    let t = EveTime(Timestamp::from_secs(1_700_000_000));
    let flow = FlowBody {
        flow: FlowObj {
            pkts_toserver: 11,
            pkts_toclient: 9,
            bytes_toserver: 688,
            bytes_toclient: 584,
            start: t,
            end: t,
            age: 0,
            state: "closed",
            reason: "timeout",
            alerted: true,
        },
        tcp: TcpObj::new(0x1b, 0x1b, "closed", false, false),
    };
    let mut g = c.benchmark_group("eve_serialise");
    g.throughput(Throughput::Elements(N));
    serialise(&mut g, "alert_with_http", EventType::Alert, &alert, N);
    serialise(&mut g, "tcp_flow", EventType::Flow, &flow, N);
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
