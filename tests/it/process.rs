//! The gateway binary as a separate process: a running `scim-gateway serve` whose stdout lines
//! are collected.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_scim-gateway");

pub struct Server {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Server {
    /// Starts `serve` on an ephemeral port (no web build) over `database_url`.
    pub fn start(database_url: &str) -> Server {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--web-dir",
                "/nonexistent",
            ])
            .env("DATABASE_URL", database_url)
            .env("SCIM_GATEWAY_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Server { child, lines: rx }
    }

    /// Lines up to and including the one that contains `needle`.
    pub fn read_until(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                let done = line.contains(needle);
                seen.push(line);
                if done {
                    return seen;
                }
            }
        }
        panic!("no line with {needle:?} within 30 s; saw {seen:?}");
    }

    /// The address of the `listening on` line among `lines`.
    pub fn base_url(lines: &[String]) -> String {
        let listening = lines
            .iter()
            .find(|l| l.contains("listening on "))
            .expect("a listening line");
        listening
            .rsplit("listening on ")
            .next()
            .unwrap()
            .trim()
            .to_string()
    }

    /// The admin token of the sign-in link printed on a first start, if among `lines`.
    pub fn sign_in_token(lines: &[String]) -> Option<String> {
        lines
            .iter()
            .find_map(|l| l.rsplit_once("#token=").map(|(_, t)| t.trim().to_string()))
    }

    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "did not stop within 15 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    /// A test that fails midway leaves no server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
