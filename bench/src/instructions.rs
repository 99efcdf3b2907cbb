//! `scim-bench instructions`: user-space instructions per request of the hot requests (a lookup,
//! a GET, a page of 100 users, a create, a profile update), counted by valgrind's callgrind. Rates on a shared 2-core machine
//! drift by a third within minutes; this count is the same run after run, so a change to the
//! request path can be compared before and after to the percent. It leaves out the kernel (TCP,
//! scheduling), which the rate table shows.

use std::path::Path;
use std::process::Stdio;

use tokio::process::Command;

use crate::http::Conn;
use crate::{
    Op, Server, Workload, check, create_op, enable_scim, get_op, list_op, lookup_op, profile_op,
    seed, serve,
};

/// Members seeded: enough for distinct lookups, few enough to seed in a moment.
const MEMBERS: usize = 200;
/// Requests before counting starts: caches, prepared statements and pools warm.
const WARM_UP: u64 = 50;

pub async fn run(gateway: &str, requests: u64, keep: Option<&Path>) {
    assert!(
        which("callgrind_control"),
        "callgrind_control not found: install valgrind (Debian package `valgrind`)"
    );
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());

    // Seeded by the gateway running natively, then served again under callgrind.
    let mut server = Server::start(serve(Command::new(gateway), &database_url)).await;
    let token = server.sign_in_token();
    let (base, auth) = enable_scim(&server.addr, &token).await;
    let mut conn = Conn::open(&server.addr, auth.clone()).await;
    let ids = std::sync::Arc::new(seed(&mut conn, &base, "u", 0, MEMBERS).await);
    drop(conn);
    server.child.kill().await.expect("stop the gateway");

    let out = dir.path().join("callgrind.out");
    let mut valgrind = Command::new("valgrind");
    valgrind.args([
        "--tool=callgrind",
        "--instr-atstart=no",
        &format!("--callgrind-out-file={}", out.display()),
        gateway,
    ]);
    let server = Server::start(serve(valgrind, &database_url)).await;
    let pid = server.child.id().expect("gateway pid").to_string();
    let mut conn = Conn::open(&server.addr, auth).await;
    let workloads: [(&str, Workload); 5] = [
        (
            "lookup filter=userName eq",
            lookup_op(base.clone(), "u", MEMBERS),
        ),
        ("GET /Users/{id}", get_op(base.clone(), ids.clone())),
        (
            "list 100 users per page",
            list_op(base.clone(), MEMBERS / 100),
        ),
        ("create user", create_op(base.clone(), "counted")),
        (
            "profile update (PATCH name + active)",
            profile_op(base.clone(), ids),
        ),
    ];
    println!(
        "\nscim-gateway user-space instructions per request (valgrind callgrind, SQLite, {MEMBERS} members)\n"
    );
    println!("| workload | requests | instructions/request |");
    println!("|---|---|---|");
    for (dump, (name, workload)) in workloads.into_iter().enumerate() {
        for i in 0..WARM_UP {
            send_checked(&mut conn, &workload(0, i)).await;
        }
        callgrind_control(&["-i", "on", &pid]).await;
        for i in 0..requests {
            send_checked(&mut conn, &workload(1, i)).await;
        }
        callgrind_control(&["-i", "off", &pid]).await;
        callgrind_control(&["-d", &pid]).await;
        let total = dumped_total(&out, dump + 1).await;
        println!(
            "| {name} | {requests} | {:.0} |",
            total as f64 / requests as f64
        );
    }
    println!();
    if let Some(keep) = keep {
        std::fs::create_dir_all(keep).expect("create the folder for the dumps");
        let names = ["lookup", "get", "list", "create", "profile"];
        for (dump, name) in names.into_iter().enumerate() {
            let from = format!("{}.{}", out.display(), dump + 1);
            let to = keep.join(format!("callgrind.{name}"));
            std::fs::copy(&from, &to).expect("keep a callgrind dump");
            println!("kept {}", to.display());
        }
    }
}

async fn send_checked(conn: &mut Conn, op: &Op) {
    let reply = conn.send(op.method, &op.path, op.body.as_deref()).await;
    assert!(
        check(&reply, op),
        "{} {} answered {}: {}",
        op.method,
        op.path,
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
}

async fn callgrind_control(args: &[&str]) {
    let status = Command::new("callgrind_control")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .expect("callgrind_control");
    assert!(status.success(), "callgrind_control {args:?}");
}

/// The instruction total of dump `n` (callgrind names them `<file>.1`, `<file>.2`, …), once
/// callgrind has written it: `totals:` is its last line (`summary:` near the top reads 0 here).
async fn dumped_total(out: &Path, n: usize) -> u64 {
    let file = format!("{}.{n}", out.display());
    for _ in 0..600 {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Some(total) = text
                .lines()
                .find_map(|l| l.strip_prefix("totals:"))
                .and_then(|t| t.trim().parse().ok())
        {
            return total;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("callgrind wrote no dump {file}");
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}
