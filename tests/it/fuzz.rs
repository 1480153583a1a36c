//! Hostile input, by the hundred thousand: extraction JSON, path descriptors, Flight SQL command
//! bytes, tickets and SQL placeholders, generated and mutated by a deterministic generator, sent
//! straight to the Flight service (in process, no network) and to the parsers. Nothing may
//! panic or hang; every answer is a gRPC status. The service's PostgreSQL is a closed port, so
//! requests that get as far as the database fail fast as UNAVAILABLE.
//! `PGFLIGHT_FUZZ_CASES` and `PGFLIGHT_FUZZ_SEED` allow longer runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::{Any, ProstMessageExt, TicketStatementQuery};
use arrow_flight::{Action, FlightDescriptor, Ticket};
use pgflight::config::Config;
use pgflight::flight::access::Access;
use pgflight::flight::signing::HandleSigner;
use pgflight::flight::{PgFlightService, PgFlightSqlService};
use pgflight::pg::PgPool;
use pgflight::pg::placeholders::rewrite_placeholders;
use pgflight::pg::read::{
    CompareOp, Filter, Literal, LiteralType, ParamRow, ParamValue, Read, ReadColumn, ScanRead,
    StatementRead,
};
use pgflight::plan::read_plan::{PlannedQuery, ReadPlan};
use pgflight::plan::request::parse_request;
use prost::Message;
use tonic::Request;

/// xorshift64*: small, fast, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Mutates `seed` a few times: bit flips, truncation, insertion, deletion, duplication.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.truncate(rng.below(out.len() + 1)),
            2 => {
                let i = rng.below(out.len() + 1);
                let piece = rng.bytes(8);
                out.splice(i..i, piece);
            }
            3 if !out.is_empty() => {
                let i = rng.below(out.len());
                out.remove(i);
            }
            4 => {
                let i = rng.below(out.len() + 1);
                let tricky = rng.pick(&[
                    "'", "\"", ";", "--", "\\", "\0", "{", "}", "é", "$1", "?", "/*",
                ]);
                out.splice(i..i, tricky.bytes());
            }
            _ => {
                let copy = out.clone();
                out.extend_from_slice(&copy[..rng.below(copy.len() + 1)]);
            }
        }
    }
    out
}

const JSON_SEEDS: &[&str] = &[
    r#"{"mode":{"fullTable":{"entity":"users"}}}"#,
    r#"{"mode":{"fullTable":{"entity":"\"Sales Ops\".\"Tar\"\"gets\""}},"partitions":4}"#,
    r#"{"mode":{"incremental":{"entity":"app.users","cursorField":"updated_at","cursor":"2023-01-01T00:00:00Z"}}}"#,
    r#"{"mode":{"incremental":{"entity":"t","cursorField":"xmin","cursor":null}},"split":"keys"}"#,
];

fn cases() -> usize {
    std::env::var("PGFLIGHT_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000)
}

fn seed() -> u64 {
    std::env::var("PGFLIGHT_FUZZ_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15)
}

#[test]
fn parsers_survive_hostile_input() {
    let mut rng = Rng(seed());
    let started = Instant::now();
    let mut accepted = 0usize;
    for case in 0..cases() {
        let json = mutate(&mut rng, JSON_SEEDS[case % JSON_SEEDS.len()].as_bytes());
        if parse_request(&json).is_ok() {
            accepted += 1;
        }
        let sql = String::from_utf8_lossy(&mutate(
            &mut rng,
            b"SELECT * FROM t WHERE a = ? AND b = '?' AND \"?\" = ? -- ?\n/* ? */ AND c = $$?$$",
        ))
        .to_string();
        let rewritten = rewrite_placeholders(&sql);
        assert!(
            rewritten.len() <= sql.len() * 4 + 16,
            "placeholders grew without bound"
        );
    }
    assert!(
        accepted > 0,
        "the mutations never kept a request valid: the fuzzer is too blunt"
    );
    assert!(started.elapsed() < Duration::from_secs(120));
}

/// The Flight service in process, in front of a closed port, and the signer that seals its
/// tickets.
fn service() -> (PgFlightService, Arc<HandleSigner>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = Config::new("127.0.0.1", port, "db", "user");
    config.connect_timeout = Duration::from_millis(500);
    let config = Arc::new(config);
    let signer = Arc::new(HandleSigner::new(None, Duration::from_secs(60)).unwrap());
    let pool = Arc::new(PgPool::new(&config).unwrap());
    let shared = PgFlightSqlService::new(pool, config.clone(), signer.clone());
    let service = PgFlightService::new(
        Arc::new(Access::new(config, shared, signer.clone()).unwrap()),
        None,
    );
    (service, signer)
}

/// Read plans of every kind, as a server would seal them into tickets.
fn plan_seeds() -> Vec<Vec<u8>> {
    let int = |name: &str| ReadColumn {
        name: name.into(),
        type_name: "integer".into(),
        base_oid: 23,
        typmod: -1,
        nullable: true,
        ..ReadColumn::default()
    };
    let scan = ScanRead {
        schema: "public".into(),
        table: "t".into(),
        columns: vec![int("id"), int("n")],
        filters: vec![
            Filter::compare(
                "id",
                CompareOp::Gt,
                Literal::new("5", LiteralType::Integer),
                false,
            ),
            Filter::any(vec![
                Filter::null_test("n", false),
                Filter::keys("id", Some(1), None),
            ]),
            Filter::xid_window(Some(3), 9),
        ],
        limit: Some(10),
    };
    let statement = StatementRead {
        sql: "SELECT $1::int AS a".into(),
        columns: vec![int("c1")],
        param_types: vec!["integer".into()],
        executions: vec![ParamRow {
            values: vec![ParamValue {
                text: Some("7".into()),
            }],
        }],
        typed: true,
    };
    let query = PlannedQuery {
        sql: "SELECT id FROM t WHERE n + 1 > 2 ORDER BY id".into(),
        schema: "public".into(),
        table: "t".into(),
        columns: vec![int("id"), int("n")],
        snapshot: String::new(),
        range: None,
        part: 0,
    };
    [
        ReadPlan::read(Read::scan(scan.clone(), None), None),
        ReadPlan::read(
            Read::scan(scan, Some("00000003-0000001B-1")).in_part(3),
            Some("{}"),
        ),
        ReadPlan::read(Read::statement(statement), None),
        ReadPlan::query(query),
        ReadPlan::explain(vec!["line".into()]),
    ]
    .iter()
    .map(ReadPlan::to_bytes)
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_request_gets_a_status() {
    let (service, signer) = service();
    let plans = plan_seeds();
    let mut opened = 0;
    let mut rng = Rng(seed() ^ 0xABCD);
    let started = Instant::now();
    let any_seeds: Vec<Vec<u8>> = [
        "CommandStatementQuery",
        "CommandGetTables",
        "CommandGetSqlInfo",
        "CommandPreparedStatementQuery",
        "CommandGetCrossReference",
        "TicketStatementQuery",
    ]
    .iter()
    .map(|name| {
        Any {
            type_url: format!("type.googleapis.com/arrow.flight.protocol.sql.{name}"),
            value: b"\x0a\x08SELECT 1".to_vec().into(),
        }
        .encode_to_vec()
    })
    .collect();
    let sealed_ticket = TicketStatementQuery {
        statement_handle: b"\x08\x01\x12\x06public\x1a\x01t".to_vec().into(),
    }
    .as_any()
    .encode_to_vec();
    let requests = cases() / 10;
    for case in 0..requests {
        let outcome = match case % 5 {
            0 => {
                let json = mutate(&mut rng, JSON_SEEDS[case % JSON_SEEDS.len()].as_bytes());
                let request = Request::new(FlightDescriptor::new_cmd(json));
                service.get_flight_info(request).await.map(|_| ())
            }
            1 => {
                let cmd = mutate(&mut rng, &any_seeds[case % any_seeds.len()]);
                let request = Request::new(FlightDescriptor::new_cmd(cmd));
                service.get_flight_info(request).await.map(|_| ())
            }
            2 => {
                let path: Vec<String> = (0..rng.below(4))
                    .map(|_| String::from_utf8_lossy(&rng.bytes(12)).to_string())
                    .collect();
                let request = Request::new(FlightDescriptor::new_path(path));
                service.get_flight_info(request).await.map(|_| ())
            }
            3 => {
                // Half unsigned (stopped by the signature check), half a mutated read plan
                // sealed with the server's secret, so decoding and running it are fuzzed too.
                let ticket = if case % 2 == 0 {
                    Ticket::new(mutate(&mut rng, &sealed_ticket))
                } else {
                    let plan = mutate(&mut rng, &plans[case % plans.len()]);
                    let handle = signer.seal(plan, "");
                    let ticket = TicketStatementQuery {
                        statement_handle: handle.into(),
                    };
                    Ticket::new(ticket.as_any().encode_to_vec())
                };
                match service.do_get(Request::new(ticket)).await {
                    Ok(response) => {
                        use futures::StreamExt;
                        let mut stream = response.into_inner();
                        while let Some(item) = stream.next().await {
                            if item.is_err() {
                                break;
                            }
                        }
                        Ok(())
                    }
                    Err(status) => Err(status),
                }
            }
            _ => {
                let kind = rng.pick(&[
                    "CreatePreparedStatement",
                    "ClosePreparedStatement",
                    "BeginTransaction",
                    "CancelQuery",
                    "",
                ]);
                let body = mutate(&mut rng, &any_seeds[0]);
                let action = Action::new(kind, body);
                service.do_action(Request::new(action)).await.map(|_| ())
            }
        };
        if case % 5 == 3 && case % 2 == 1 {
            let refused_seal = matches!(&outcome, Err(s) if s.message().contains("altered"));
            assert!(
                !refused_seal,
                "a ticket sealed by the server was refused: {outcome:?}"
            );
            opened += 1;
        }
        if let Err(status) = outcome {
            assert!(
                !status.message().is_empty(),
                "a status without words: {status:?}"
            );
        }
    }
    assert!(opened > 0, "no sealed read plan reached decoding");
    assert!(
        started.elapsed() < Duration::from_secs(240),
        "{requests} requests took {:?}",
        started.elapsed()
    );
}
