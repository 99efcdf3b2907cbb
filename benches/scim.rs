//! Micro-benchmarks of the hot pure paths: filter parsing and SQL translation, PATCH application,
//! and SCIM JSON rendering of one user and of a 100-user page; and what the public ACS spends on
//! the worst documents anyone can post (the bounded scan's refusals, and the heaviest document
//! that reaches xmlsec, whose time is spent under its lock). `cargo bench`.

#[path = "../bench/src/saml_documents.rs"]
mod saml_documents;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use scim_gateway::domain::filter;
use scim_gateway::domain::filter_sql;
use scim_gateway::domain::roles::Role;
use scim_gateway::domain::users::{Email, GroupRef, User};
use scim_gateway::scim::json_out::JsonOut;
use scim_gateway::scim::user_json::UserJson;
use scim_gateway::scim::{patch, user_resource as users};
use sea_orm::DbBackend;
use sea_orm::sea_query::{PostgresQueryBuilder, Query, SqliteQueryBuilder};
use serde_json::{Map, Value, json};
use std::hint::black_box;

const FILTERS: &[&str] = &[
    r#"userName eq "jane@example.com""#,
    r#"emails[type eq "work"].value eq "jane@example.com""#,
    r#"(name.familyName sw "Do" or title pr) and not (active eq false) and meta.lastModified gt "2026-01-01T00:00:00Z""#,
];

fn user(i: usize) -> User {
    let now = Utc::now();
    let mut attributes = Map::new();
    attributes.insert("title".into(), json!("Engineer"));
    attributes.insert(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into(),
        json!({ "department": "R&D", "employeeNumber": "1013" }),
    );
    User {
        id: format!("00000000-0000-0000-0000-{i:012}"),
        workspace_id: "w".into(),
        account_id: "a".into(),
        user_name: format!("user{i}@example.com"),
        external_id: Some(format!("00u{i}")),
        display_name: Some(format!("User {i}")),
        given_name: Some("Jane".into()),
        family_name: Some("Doe".into()),
        active: true,
        direct_role: None,
        effective_role: Role::Labeler,
        is_owner: false,
        emails: vec![Email {
            value: format!("user{i}@example.com"),
            kind: Some("work".into()),
            primary: true,
        }],
        groups: vec![GroupRef {
            id: "g1".into(),
            display_name: "QA".into(),
        }],
        attributes,
        version: 3,
        created_at: now,
        updated_at: now,
    }
}

fn benches(c: &mut Criterion) {
    c.bench_function("filter: parse 3 filters", |b| {
        b.iter(|| {
            for f in FILTERS {
                black_box(filter::parse(black_box(f)).unwrap());
            }
        })
    });
    let parsed: Vec<_> = FILTERS.iter().map(|f| filter::parse(f).unwrap()).collect();
    c.bench_function("filter: translate 3 filters to SQLite SQL", |b| {
        b.iter(|| {
            for f in &parsed {
                let cond = filter_sql::users(f, DbBackend::Sqlite).unwrap();
                black_box(Query::select().expr(cond).to_string(SqliteQueryBuilder));
            }
        })
    });
    c.bench_function("filter: translate 3 filters to PostgreSQL SQL", |b| {
        b.iter(|| {
            for f in &parsed {
                let cond = filter_sql::users(f, DbBackend::Postgres).unwrap();
                black_box(Query::select().expr(cond).to_string(PostgresQueryBuilder));
            }
        })
    });

    let doc = users::render(&user(1), "https://gw/api/teams/t/scim/v2");
    let Value::Object(body) = json!({ "Operations": [
        { "op": "Replace", "path": "active", "value": "False" },
        { "op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com" },
        { "op": "replace", "value": { "name.givenName": "Janet", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales" } }
    ] }) else {
        unreachable!()
    };
    let ops = patch::parse(body).unwrap();
    c.bench_function(
        "patch: apply 3 operations to a user and parse it back",
        |b| {
            b.iter(|| {
                let Value::Object(map) = patch::apply(
                    black_box(doc.clone()),
                    &ops,
                    scim_gateway::domain::attributes::Resource::User,
                )
                .unwrap() else {
                    unreachable!()
                };
                black_box(users::parse(map).unwrap());
            })
        },
    );

    let one = user(1);
    let base = "https://gw/api/teams/t/scim/v2";
    c.bench_function("render: one user, as answered (written by hand)", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(1024);
            UserJson {
                user: black_box(&one),
                base,
            }
            .write(&mut JsonOut::new(&mut out));
            black_box(out)
        })
    });
    c.bench_function(
        "render: one user through serde_json::Value (attributes= path)",
        |b| {
            b.iter(|| {
                black_box(
                    users::render(black_box(&one), "https://gw/api/teams/t/scim/v2").to_string(),
                )
            })
        },
    );
    let page: Vec<User> = (0..100).map(user).collect();
    c.bench_function(
        "render: a page of 100 users, as answered (written by hand)",
        |b| {
            b.iter(|| {
                let mut out = Vec::with_capacity(100 * 1024);
                let mut json = JsonOut::new(&mut out);
                json.open('[');
                for user in &page {
                    json.element();
                    UserJson { user, base }.write(&mut json);
                }
                json.close(']');
                black_box(out)
            })
        },
    );
    c.bench_function(
        "render: a page of 100 users through serde_json::Value",
        |b| {
            b.iter(|| {
                let resources: Vec<Value> = page
                    .iter()
                    .map(|u| users::render(u, "https://gw/api/teams/t/scim/v2"))
                    .collect();
                black_box(json!({ "Resources": resources }).to_string())
            })
        },
    );
}

/// The ACS's cost per document, by the check that ends it.
fn saml(c: &mut Criterion) {
    use saml_documents::{Idp, MAX_DOCUMENT, Sp, deep_nesting, encode, namespace_bomb, wide};
    use scim_gateway::domain::saml::ServiceProvider;
    use scim_gateway::domain::saml::precheck::{LIMITS, scan};
    use scim_gateway::domain::saml::verify::{TrustedIdp, verify};

    let sp = ServiceProvider::at("https://gw.example.com/api/teams/t/saml");
    let idp = Idp::generate();
    let trusted = TrustedIdp {
        entity_id: saml_documents::IDP_ENTITY_ID,
        certificates: vec![idp.certificate_pem.as_str()],
    };
    let bench_sp = Sp {
        entity_id: &sp.entity_id,
        acs_url: &sp.acs_url,
    };
    let mut group = c.benchmark_group("saml");
    for (name, document) in [
        ("namespace bomb", namespace_bomb(MAX_DOCUMENT)),
        ("deep nesting", deep_nesting(MAX_DOCUMENT)),
        ("wide", wide(MAX_DOCUMENT)),
    ] {
        assert!(document.len() <= MAX_DOCUMENT);
        assert!(scan(&document, &LIMITS).is_err(), "{name} is refused");
        group.bench_function(format!("scan: refuse a 512 KiB {name}"), |b| {
            b.iter(|| black_box(scan(black_box(&document), &LIMITS).is_err()))
        });
        let form = encode(&document);
        group.bench_function(
            format!("verify: refuse a 512 KiB {name} (whole ACS check)"),
            |b| b.iter(|| black_box(verify(black_box(&form), &sp, &trusted).is_err())),
        );
    }
    let heavy = idp.heavy_forgery(&bench_sp, MAX_DOCUMENT - 1024, 1);
    assert!(heavy.len() <= MAX_DOCUMENT, "{}", heavy.len());
    let heavy_form = encode(&heavy);
    let refusal = verify(&heavy_form, &sp, &trusted).expect_err("a forgery");
    assert_eq!(
        refusal.check,
        scim_gateway::domain::saml::verify::Check::Signature,
        "{refusal}"
    );
    group.bench_function(
        "verify: refuse a 512 KiB forgery that reaches xmlsec (the heaviest refusal)",
        |b| b.iter(|| black_box(verify(black_box(&heavy_form), &sp, &trusted).is_err())),
    );
    let valid = encode(&idp.response(&bench_sp, "owner@bench.test", None, 2));
    verify(&valid, &sp, &trusted).expect("a valid response verifies");
    group.bench_function("verify: accept a valid response", |b| {
        b.iter(|| black_box(verify(black_box(&valid), &sp, &trusted).is_ok()))
    });
    group.finish();
}

criterion_group!(scim, benches, saml);
criterion_main!(scim);
