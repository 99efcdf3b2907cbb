//! `scim-bench sign-in`: a valid SSO sign-in's latency at the ACS, on an idle gateway and while
//! one client posts the worst documents it can, without pause, from several connections. The
//! gateway runs behind a "proxy" (`--trusted-proxies 127.0.0.1`) so that the attacker and the
//! people signing in are different clients (`X-Forwarded-For`), as on the internet.
//!
//! Phases: idle; a heavy forgery (512 KiB that passes every check before xmlsec, so xmlsec
//! canonicalises and digests all of it under its lock); a namespace bomb (refused by the scan);
//! then the heavy forgery again with the per-client budget switched off, to show what the
//! bounded checks alone hold.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::json;
use tokio::process::Command;

use crate::saml_documents::{Idp, MAX_DOCUMENT, Sp, encode, namespace_bomb};
use crate::{Server, graphql, process_cpu, serve, server_cpu};

const ATTACKER: &str = "203.0.113.66";
const OWNER: &str = "admin@example.com";

struct Phase {
    name: String,
    latencies: Vec<Duration>,
    /// Share of one core the gateway and this load generator used during the phase.
    gateway_cores: f64,
    generator_cores: f64,
    attack_answers: u64,
    attack_refused: u64,
    attack_limited: u64,
}

pub async fn run(gateway: &str, sign_ins: usize, attackers: usize) {
    let idp = Arc::new(Idp::generate());
    let mut phases = Vec::new();
    for budgeted in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        );
        let mut command = serve(Command::new(gateway), &url);
        command.env("SCIM_GATEWAY_TRUSTED_PROXIES", "127.0.0.1");
        if !budgeted {
            command.env("SCIM_GATEWAY_PUBLIC_RATE_LIMIT", "0");
        }
        let server = Server::start(command).await;
        let token = server.sign_in_token();
        let configured = graphql(
            &server.addr,
            &token,
            "mutation($input: SamlInput!) { configureSaml(input: $input) { spEntityId acsUrl } }",
            json!({ "input": {
                "idpEntityId": crate::saml_documents::IDP_ENTITY_ID,
                "ssoUrl": "https://idp.bench.test/sso",
                "certificatePem": idp.certificate_pem,
            }}),
        )
        .await;
        let entity_id = configured["configureSaml"]["spEntityId"]
            .as_str()
            .unwrap()
            .to_string();
        let acs_url = configured["configureSaml"]["acsUrl"]
            .as_str()
            .unwrap()
            .to_string();
        let acs_path = url::Url::parse(&acs_url).unwrap().path().to_string();
        let sp = Sp {
            entity_id: &entity_id,
            acs_url: &acs_url,
        };
        let heavy = encode(&idp.heavy_forgery(&sp, MAX_DOCUMENT - 1024, u64::MAX));
        let bomb = encode(&namespace_bomb(MAX_DOCUMENT));
        let attacks: Vec<(&str, Option<&str>)> = if budgeted {
            vec![
                ("idle", None),
                ("heavy forgery", Some(heavy.as_str())),
                ("namespace bomb", Some(bomb.as_str())),
            ]
        } else {
            vec![("heavy forgery, no budget", Some(heavy.as_str()))]
        };
        for (name, attack) in attacks {
            // Signed just before the phase: an assertion is valid for five minutes.
            let base = phases.len() as u64 * 1_000_000;
            let responses: Vec<String> = (0..sign_ins)
                .map(|i| encode(&idp.response(&sp, OWNER, None, base + i as u64)))
                .collect();
            let phase = measure(
                &server.addr,
                &acs_path,
                responses,
                attack.map(|a| (a.to_string(), attackers)),
            )
            .await;
            phases.push(Phase {
                name: name.to_string(),
                ..phase
            });
        }
        drop(server);
    }
    println!();
    println!(
        "| ACS sign-in ({} sign-ins, one at a time; attacker: {} connections without pause) | p50 ms | p99 ms | max ms | attack answers | refused 403 | over budget 429 | gateway cores | load generator cores |",
        sign_ins, attackers
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for p in &phases {
        let mut l = p.latencies.clone();
        l.sort();
        let at = |q: f64| {
            let i = ((l.len().saturating_sub(1)) as f64 * q).round() as usize;
            l.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {:.2} | {:.2} |",
            p.name,
            at(0.5),
            at(0.99),
            at(1.0),
            p.attack_answers,
            p.attack_refused,
            p.attack_limited,
            p.gateway_cores,
            p.generator_cores
        );
    }
}

/// Signs in with each of `responses` in turn (each from its own client address), while
/// `attack` (a form value and a number of connections) is posted without pause.
async fn measure(
    addr: &str,
    acs_path: &str,
    responses: Vec<String>,
    attack: Option<(String, usize)>,
) -> Phase {
    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let limited = Arc::new(AtomicU64::new(0));
    let mut attackers = Vec::new();
    if let Some((form, connections)) = &attack {
        let body = Bytes::from(format!("SAMLResponse={}", urlencode(form)));
        for _ in 0..*connections {
            let (addr, path, body) = (addr.to_string(), acs_path.to_string(), body.clone());
            let (stop, answers, refused, limited) = (
                stop.clone(),
                answers.clone(),
                refused.clone(),
                limited.clone(),
            );
            attackers.push(tokio::spawn(async move {
                let mut conn = FormConn::open(&addr).await;
                while !stop.load(Ordering::Relaxed) {
                    // The gateway answers 429 without reading a body and then closes the
                    // connection: the attacker connects again, as a client would.
                    let Some((status, _)) = conn.try_post(&path, ATTACKER, body.clone()).await
                    else {
                        conn = FormConn::open(&addr).await;
                        continue;
                    };
                    answers.fetch_add(1, Ordering::Relaxed);
                    match status {
                        403 => refused.fetch_add(1, Ordering::Relaxed),
                        429 => limited.fetch_add(1, Ordering::Relaxed),
                        other => panic!("the attack was answered {other}"),
                    };
                }
            }));
        }
        // The attack is under way before the first sign-in.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (gateway_before, generator_before, started_at) =
        (server_cpu(addr), process_cpu("self"), Instant::now());
    let mut conn = FormConn::open(addr).await;
    let mut latencies = Vec::with_capacity(responses.len());
    for (i, response) in responses.iter().enumerate() {
        let client = format!("198.51.{}.{}", 100 + i / 250, 1 + i % 250);
        let body = Bytes::from(format!("SAMLResponse={}", urlencode(response)));
        let started = Instant::now();
        let (status, signed_in) = conn.post(acs_path, &client, body).await;
        latencies.push(started.elapsed());
        assert!(
            status == 303 && signed_in,
            "sign-in {i} was answered {status} without a session"
        );
    }
    let wall = started_at.elapsed().as_secs_f64();
    let gateway_cores = server_cpu(addr)
        .saturating_sub(gateway_before)
        .as_secs_f64()
        / wall;
    let generator_cores = process_cpu("self")
        .saturating_sub(generator_before)
        .as_secs_f64()
        / wall;
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        a.await.unwrap();
    }
    Phase {
        name: String::new(),
        latencies,
        gateway_cores,
        generator_cores,
        attack_answers: answers.load(Ordering::Relaxed),
        attack_refused: refused.load(Ordering::Relaxed),
        attack_limited: limited.load(Ordering::Relaxed),
    }
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A keep-alive connection that posts forms as a browser behind the proxy would.
struct FormConn {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
}

impl FormConn {
    async fn open(addr: &str) -> FormConn {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).ok();
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("handshake");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        FormConn {
            sender,
            host: addr.to_string(),
        }
    }

    /// POSTs `body` as a form from `client`: the status, and whether a session cookie was set.
    async fn post(&mut self, path: &str, client: &str, body: Bytes) -> (u16, bool) {
        self.try_post(path, client, body)
            .await
            .expect("the gateway answered")
    }

    /// The same, `None` when the connection was closed instead of answered.
    async fn try_post(&mut self, path: &str, client: &str, body: Bytes) -> Option<(u16, bool)> {
        let request = http::Request::builder()
            .method("POST")
            .uri(path)
            .header("host", &self.host)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-forwarded-for", client)
            .body(Full::new(body))
            .expect("request");
        self.sender.ready().await.ok()?;
        let response = self.sender.send_request(request).await.ok()?;
        let status = response.status().as_u16();
        let signed_in = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.starts_with("scimgw_session=")));
        response.into_body().collect().await.ok()?;
        Some((status, signed_in))
    }
}
