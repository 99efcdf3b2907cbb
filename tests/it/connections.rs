//! An internet-facing endpoint that idle connections can't take down: a gateway process under the
//! 1,024-descriptor limit service managers give, with 1,100 connections held open by this test
//! (silent ones and half-sent request heads), still answers health checks and SCIM at once, and
//! closes the silent ones after the head timeout.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::fresh_database;
use crate::process::{Server, scim_get, start_with_scim_using};

const HELD: usize = 1100;

/// Reads until the server closes the connection (EOF or reset); false if it stays open `wait`.
async fn closed_by_server(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 512];
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 or 400 the server wrote before closing: keep reading to the close.
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_cannot_take_the_endpoint_down() {
    // This test holds more sockets than a default limit allows.
    rlimit::increase_nofile_limit(8192).unwrap();
    let (url, _db) = fresh_database().await;
    let server = Server::start_limited(
        &url,
        1024,
        &[
            ("SCIM_GATEWAY_HEAD_TIMEOUT_SECS", "3"),
            ("SCIM_GATEWAY_LOG", "info"),
        ],
        Stdio::null(),
    );
    let gateway = start_with_scim_using(server).await;
    let addr = gateway.base.trim_start_matches("http://").to_string();

    // 1,100 connections: two in three silent, the rest half a request line and then nothing.
    let mut held = Vec::with_capacity(HELD);
    for i in 0..HELD {
        let mut stream = TcpStream::connect(&addr).await.expect("connect");
        if i % 3 == 2 {
            stream.write_all(b"GET /healthz HT").await.unwrap();
        }
        held.push(stream);
    }
    // The server has accepted what its budget allows, closing the oldest idle ones for the rest.
    tokio::time::sleep(Duration::from_millis(300)).await;

    for attempt in 0..3 {
        let started = Instant::now();
        let fresh = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let health = fresh
            .get(format!("{}/healthz", gateway.base))
            .send()
            .await
            .expect("/healthz answers");
        assert_eq!(health.status().as_u16(), 200);
        let users = scim_get(
            &fresh,
            &format!("{}/Users?count=1", gateway.scim_base),
            &gateway.key,
        )
        .await;
        assert!(users["totalResults"].is_number(), "{users}");
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(1),
            "attempt {attempt}: /healthz and a SCIM GET took {took:?} with {HELD} connections held"
        );
    }

    // The silent and half-sent connections are closed by the server after the head timeout
    // (3 s here); give it the timeout and a margin.
    let mut closed = 0;
    let checks = held.iter_mut().step_by(50);
    for stream in checks {
        if closed_by_server(stream, Duration::from_secs(6)).await {
            closed += 1;
        }
    }
    assert_eq!(
        closed,
        HELD.div_ceil(50),
        "every sampled stalled connection was closed"
    );

    // And the gateway still serves, with a fresh connection.
    let health = reqwest::get(format!("{}/healthz", gateway.base))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

/// A keep-alive connection idle past the idle timeout is closed; one that keeps working is not.
#[tokio::test]
async fn keep_alive_connections_idle_too_long_are_closed() {
    let (url, _db) = fresh_database().await;
    let server = Server::start_with(
        &url,
        &[
            ("SCIM_GATEWAY_IDLE_TIMEOUT_SECS", "2"),
            ("SCIM_GATEWAY_HEAD_TIMEOUT_SECS", "10"),
        ],
        Stdio::null(),
    );
    let lines = server.read_until("listening on");
    let base = Server::base_url(&lines);
    let addr = base.trim_start_matches("http://").to_string();
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

    let mut stream = TcpStream::connect(&addr).await.unwrap();
    // Requests 1 s apart keep the connection: each answer restarts the idle clock.
    for _ in 0..3 {
        stream.write_all(request).await.unwrap();
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            std::str::from_utf8(&buf[..n])
                .unwrap()
                .starts_with("HTTP/1.1 200")
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Then idle: closed after about 2 s, well before the 10 s head timeout.
    let started = Instant::now();
    assert!(closed_by_server(&mut stream, Duration::from_secs(6)).await);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "closed after {took:?}, not by the 2 s idle timeout"
    );
}
