//! Property: a SCIM filter answered by the database (translated to SQL) selects exactly the users
//! an in-memory evaluation of the same filter selects, for random filters over random users. The
//! evaluation here is written from RFC 7643/7644 and the schema (`externalId` and `id` compare
//! case-exactly, the other strings not; a missing attribute matches no comparison but `ne`), not
//! from the server's code.

use std::collections::BTreeSet;

use chrono::{DateTime, FixedOffset};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use crate::common::Scim;

#[derive(Clone, Debug)]
struct Email {
    value: String,
    kind: Option<String>,
}

#[derive(Clone, Debug)]
struct User {
    id: String,
    user_name: String,
    external_id: Option<String>,
    display_name: Option<String>,
    given_name: Option<String>,
    active: bool,
    emails: Vec<Email>,
    created: DateTime<FixedOffset>,
    last_modified: DateTime<FixedOffset>,
}

#[derive(Clone, Copy, Debug)]
enum Attr {
    UserName,
    ExternalId,
    DisplayName,
    GivenName,
    EmailValue,
    EmailType,
}

impl Attr {
    fn path(self) -> &'static str {
        match self {
            Attr::UserName => "userName",
            Attr::ExternalId => "externalId",
            Attr::DisplayName => "displayName",
            Attr::GivenName => "name.givenName",
            Attr::EmailValue => "emails.value",
            Attr::EmailType => "emails.type",
        }
    }

    fn multi_valued(self) -> bool {
        matches!(self, Attr::EmailValue | Attr::EmailType)
    }

    fn case_exact(self) -> bool {
        matches!(self, Attr::ExternalId)
    }

    /// The attribute's values on a user (several for a multi-valued one).
    fn values(self, user: &User) -> Vec<String> {
        match self {
            Attr::UserName => vec![user.user_name.clone()],
            Attr::ExternalId => user.external_id.iter().cloned().collect(),
            Attr::DisplayName => user.display_name.iter().cloned().collect(),
            Attr::GivenName => user.given_name.iter().cloned().collect(),
            Attr::EmailValue => user.emails.iter().map(|e| e.value.clone()).collect(),
            Attr::EmailType => user.emails.iter().filter_map(|e| e.kind.clone()).collect(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
}

/// The core schema's URN, which may qualify any of its attribute paths.
const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

#[derive(Clone, Copy, Debug)]
enum TimeAttr {
    Created,
    LastModified,
}

#[derive(Clone, Copy, Debug)]
enum Order {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// How a boolean is written in a filter: as JSON, or as Entra's strings ("True", "FALSE").
#[derive(Clone, Copy, Debug)]
enum BoolSpelling {
    Json,
    Capitalised,
    Upper,
}

#[derive(Clone, Debug)]
enum F {
    /// `qualified`: the path written with the core schema's URN in front.
    Compare(Attr, Op, String, bool),
    Present(Attr),
    /// `active eq|ne <bool>`.
    Active(bool, bool, BoolSpelling),
    /// `<attr> eq|ne null` (single-valued attributes).
    Null(Attr, bool),
    /// A meta time compared with an RFC 3339 string.
    Time(TimeAttr, Order, String),
    /// `emails[type eq "…" and value co "…"]`: both on the same e-mail.
    EmailWhere(String, String),
    And(Box<F>, Box<F>),
    Or(Box<F>, Box<F>),
    Not(Box<F>),
}

fn test(op: Op, actual: &str, expected: &str, case_exact: bool) -> bool {
    let (a, b) = if case_exact {
        (actual.to_string(), expected.to_string())
    } else {
        (actual.to_lowercase(), expected.to_lowercase())
    };
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Co => a.contains(&b),
        Op::Sw => a.starts_with(&b),
        Op::Ew => a.ends_with(&b),
    }
}

impl F {
    fn render(&self) -> String {
        match self {
            F::Compare(attr, op, value, qualified) => {
                let op = match op {
                    Op::Eq => "eq",
                    Op::Ne => "ne",
                    Op::Co => "co",
                    Op::Sw => "sw",
                    Op::Ew => "ew",
                };
                let urn = if *qualified {
                    format!("{CORE_USER}:")
                } else {
                    String::new()
                };
                format!("{urn}{} {op} {}", attr.path(), json!(value))
            }
            F::Present(attr) => format!("{} pr", attr.path()),
            F::Active(eq, b, spelling) => {
                let op = if *eq { "eq" } else { "ne" };
                let value = match spelling {
                    BoolSpelling::Json => b.to_string(),
                    BoolSpelling::Capitalised if *b => "\"True\"".into(),
                    BoolSpelling::Capitalised => "\"False\"".into(),
                    BoolSpelling::Upper => format!("\"{}\"", b.to_string().to_uppercase()),
                };
                format!("active {op} {value}")
            }
            F::Null(attr, eq) => format!("{} {} null", attr.path(), if *eq { "eq" } else { "ne" }),
            F::Time(attr, order, at) => {
                let attr = match attr {
                    TimeAttr::Created => "meta.created",
                    TimeAttr::LastModified => "meta.lastModified",
                };
                let op = match order {
                    Order::Eq => "eq",
                    Order::Ne => "ne",
                    Order::Gt => "gt",
                    Order::Ge => "ge",
                    Order::Lt => "lt",
                    Order::Le => "le",
                };
                format!("{attr} {op} {}", json!(at))
            }
            F::EmailWhere(kind, value) => {
                format!(
                    "emails[type eq {} and value co {}]",
                    json!(kind),
                    json!(value)
                )
            }
            F::And(a, b) => format!("({} and {})", a.render(), b.render()),
            F::Or(a, b) => format!("({} or {})", a.render(), b.render()),
            F::Not(a) => format!("not ({})", a.render()),
        }
    }

    fn eval(&self, user: &User) -> bool {
        match self {
            // A single-valued attribute that is missing is not equal to anything.
            F::Compare(attr, Op::Ne, value, _) if !attr.multi_valued() => !attr
                .values(user)
                .iter()
                .any(|v| test(Op::Eq, v, value, attr.case_exact())),
            // A multi-valued one matches when any of its values does (RFC 7644 §3.4.2.2); an
            // e-mail without a type is, like a missing attribute, not equal to any type.
            F::Compare(Attr::EmailType, Op::Ne, value, _) => user.emails.iter().any(|e| {
                !e.kind
                    .as_deref()
                    .is_some_and(|k| test(Op::Eq, k, value, false))
            }),
            F::Compare(attr, op, value, _) => attr
                .values(user)
                .iter()
                .any(|v| test(*op, v, value, attr.case_exact())),
            F::Present(attr) => attr.values(user).iter().any(|v| !v.is_empty()),
            F::Active(eq, b, _) => (user.active == *b) == *eq,
            F::Null(attr, eq) => attr.values(user).is_empty() == *eq,
            F::Time(attr, order, at) => {
                let at = DateTime::parse_from_rfc3339(at).unwrap();
                let t = match attr {
                    TimeAttr::Created => user.created,
                    TimeAttr::LastModified => user.last_modified,
                };
                match order {
                    Order::Eq => t == at,
                    Order::Ne => t != at,
                    Order::Gt => t > at,
                    Order::Ge => t >= at,
                    Order::Lt => t < at,
                    Order::Le => t <= at,
                }
            }
            F::EmailWhere(kind, value) => user.emails.iter().any(|e| {
                e.kind
                    .as_deref()
                    .is_some_and(|k| test(Op::Eq, k, kind, false))
                    && test(Op::Co, &e.value, value, false)
            }),
            F::And(a, b) => a.eval(user) && b.eval(user),
            F::Or(a, b) => a.eval(user) || b.eval(user),
            F::Not(a) => !a.eval(user),
        }
    }
}

/// Short strings from a few letters in both cases, so that comparisons often match.
fn word() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[aAbB]{0,3}").unwrap()
}

/// Random filters; time comparisons take their operands from `times`, the users' own
/// timestamps, so that every order splits the users somewhere.
fn filter(times: Vec<String>) -> impl Strategy<Value = F> {
    let single = prop_oneof![
        Just(Attr::ExternalId),
        Just(Attr::DisplayName),
        Just(Attr::GivenName),
    ];
    let order = prop_oneof![
        Just(Order::Eq),
        Just(Order::Ne),
        Just(Order::Gt),
        Just(Order::Ge),
        Just(Order::Lt),
        Just(Order::Le),
    ];
    let spelling = prop_oneof![
        Just(BoolSpelling::Json),
        Just(BoolSpelling::Capitalised),
        Just(BoolSpelling::Upper),
    ];
    let time_attr = prop_oneof![Just(TimeAttr::Created), Just(TimeAttr::LastModified)];
    let attr = prop_oneof![
        Just(Attr::UserName),
        Just(Attr::ExternalId),
        Just(Attr::DisplayName),
        Just(Attr::GivenName),
        Just(Attr::EmailValue),
        Just(Attr::EmailType),
    ];
    let op = prop_oneof![
        Just(Op::Eq),
        Just(Op::Ne),
        Just(Op::Co),
        Just(Op::Sw),
        Just(Op::Ew)
    ];
    let leaf = prop_oneof![
        4 => (attr.clone(), op, word(), any::<bool>()).prop_map(|(a, o, w, q)| F::Compare(a, o, w, q)),
        1 => attr.prop_map(F::Present),
        1 => (any::<bool>(), any::<bool>(), spelling).prop_map(|(eq, b, s)| F::Active(eq, b, s)),
        1 => (single, any::<bool>()).prop_map(|(a, eq)| F::Null(a, eq)),
        1 => (time_attr, order, proptest::sample::select(times)).prop_map(|(a, o, t)| F::Time(a, o, t)),
        1 => (prop_oneof![Just("work".to_string()), Just("HOME".to_string())], word())
            .prop_map(|(k, v)| F::EmailWhere(k, v)),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| F::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| F::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| F::Not(Box::new(a))),
        ]
    })
}

/// Users drawn from the same letters, each with some attributes missing.
fn users(seed: u64, n: usize) -> Vec<Value> {
    let mut state = seed;
    let mut next = move |m: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % m
    };
    let letters = ["a", "A", "b", "B"];
    let word = |max: u64, next: &mut dyn FnMut(u64) -> u64| -> String {
        (0..next(max + 1))
            .map(|_| letters[next(4) as usize])
            .collect()
    };
    (0..n)
        .map(|i| {
            let mut user =
                json!({ "userName": format!("{}{i}", word(3, &mut next)), "active": next(2) == 0 });
            if next(3) > 0 {
                user["externalId"] = json!(word(3, &mut next));
            }
            if next(3) > 0 {
                user["displayName"] = json!(word(3, &mut next));
            }
            if next(3) > 0 {
                user["name"] = json!({ "givenName": word(3, &mut next) });
            }
            let emails: Vec<Value> = (0..next(3))
                .map(|j| {
                    let mut email =
                        json!({ "value": format!("{}{i}x{j}@t.io", word(2, &mut next)) });
                    match next(3) {
                        0 => email["type"] = json!("work"),
                        1 => email["type"] = json!("home"),
                        _ => {}
                    }
                    email
                })
                .collect();
            if !emails.is_empty() {
                user["emails"] = Value::Array(emails);
            }
            user
        })
        .collect()
}

fn model(resource: &Value) -> User {
    let text = |v: &Value| v.as_str().map(str::to_string);
    User {
        id: resource["id"].as_str().unwrap().to_string(),
        user_name: resource["userName"].as_str().unwrap().to_string(),
        external_id: text(&resource["externalId"]),
        display_name: text(&resource["displayName"]),
        given_name: text(&resource["name"]["givenName"]),
        active: resource["active"].as_bool().unwrap(),
        created: DateTime::parse_from_rfc3339(resource["meta"]["created"].as_str().unwrap())
            .unwrap(),
        last_modified: DateTime::parse_from_rfc3339(
            resource["meta"]["lastModified"].as_str().unwrap(),
        )
        .unwrap(),
        emails: resource["emails"]
            .as_array()
            .map(|emails| {
                emails
                    .iter()
                    .map(|e| Email {
                        value: e["value"].as_str().unwrap().to_string(),
                        kind: text(&e["type"]),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Stores `n` random users (from `seed`) with one Bulk request; returns `GET /Users` of them all.
fn seed(
    runtime: &tokio::runtime::Runtime,
    scim: &Scim,
    seed: u64,
    n: usize,
) -> crate::common::ScimResponse {
    let ops: Vec<Value> = users(seed, n)
        .into_iter()
        .enumerate()
        .map(|(i, data)| json!({ "method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": data }))
        .collect();
    let seeded = runtime.block_on(scim.call(
        "POST",
        "/Bulk",
        Some(json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops })),
    ));
    assert_eq!(seeded.status, 200, "{}", seeded.body);
    let all = runtime.block_on(scim.call("GET", "/Users?count=1000", None));
    assert_eq!(all.status, 200, "{}", all.body);
    all
}

#[test]
fn database_filters_select_what_the_rfc_evaluation_selects() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let scim = runtime.block_on(Scim::start());
    let all = seed(&runtime, &scim, 0x5c1e, 60);
    let people: Vec<User> = all.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(model)
        .collect();
    assert_eq!(people.len(), 61, "the owner and the seeded users");

    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    let mut times: Vec<String> = all.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| [&r["meta"]["created"], &r["meta"]["lastModified"]])
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    times.sort();
    times.dedup();
    runner
        .run(&filter(times), |f| {
            let text = f.render();
            let answer = runtime.block_on(scim.call(
                "POST",
                "/Users/.search",
                Some(json!({ "filter": text, "count": 1000, "attributes": ["id"] })),
            ));
            prop_assert_eq!(answer.status.as_u16(), 200, "{}: {}", text, answer.body);
            let got: BTreeSet<String> = answer.body["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string())
                .collect();
            let expected: BTreeSet<String> = people
                .iter()
                .filter(|u| f.eval(u))
                .map(|u| u.id.clone())
                .collect();
            prop_assert_eq!(&got, &expected, "filter {}", text);
            Ok(())
        })
        .unwrap();
}

/// A value filter over e-mails (`value`, `type`), rendered for `emails[...]`.
#[derive(Clone, Debug)]
enum EmailFilter {
    Compare(&'static str, &'static str, String),
    Present(&'static str),
    And(Box<EmailFilter>, Box<EmailFilter>),
    Or(Box<EmailFilter>, Box<EmailFilter>),
    Not(Box<EmailFilter>),
}

impl EmailFilter {
    fn render(&self) -> String {
        match self {
            EmailFilter::Compare(attr, op, value) => format!("{attr} {op} \"{value}\""),
            EmailFilter::Present(attr) => format!("{attr} pr"),
            EmailFilter::And(a, b) => format!("({} and {})", a.render(), b.render()),
            EmailFilter::Or(a, b) => format!("({} or {})", a.render(), b.render()),
            EmailFilter::Not(a) => format!("not ({})", a.render()),
        }
    }
}

fn email_filter() -> impl Strategy<Value = EmailFilter> {
    let attr = prop_oneof![Just("value"), Just("type")];
    let op = prop_oneof![Just("eq"), Just("ne"), Just("co"), Just("sw"), Just("ew")];
    let operand = prop_oneof![
        word(),
        Just("WORK".to_string()),
        Just("home".to_string()),
        Just("@T.IO".to_string()),
    ];
    let leaf = prop_oneof![
        4 => (attr.clone(), op, operand).prop_map(|(a, o, w)| EmailFilter::Compare(a, o, w)),
        1 => attr.prop_map(EmailFilter::Present),
    ];
    leaf.prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| EmailFilter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| EmailFilter::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| EmailFilter::Not(Box::new(a))),
        ]
    })
}

/// Property: a value filter selects the same e-mails whether the database evaluates it (a
/// `GET /Users?filter=emails[…]`) or the PATCH engine does (`emails[…]` as a PATCH path), since
/// both take their case rules from the one attribute table.
#[test]
fn sql_and_patch_value_filters_select_the_same_emails() {
    use scim_gateway::domain::attributes::{self, Resource};
    use scim_gateway::domain::filter;
    use scim_gateway::scim::patch;

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let scim = runtime.block_on(Scim::start());
    let all = seed(&runtime, &scim, 0xe7a1, 40);
    let people: Vec<Value> = all.body["Resources"].as_array().unwrap().clone();
    let emails = attributes::find(Resource::User.schema().attributes, "emails");
    assert!(emails.is_some());

    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&email_filter(), |f| {
            let inner = f.render();
            let text = format!("emails[{inner}]");
            let answer = runtime.block_on(scim.call(
                "POST",
                "/Users/.search",
                Some(json!({ "filter": text, "count": 1000, "attributes": ["id"] })),
            ));
            prop_assert_eq!(answer.status.as_u16(), 200, "{}: {}", text, answer.body);
            let by_sql: BTreeSet<String> = answer.body["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string())
                .collect();
            let parsed = filter::parse(&inner).unwrap();
            let by_patch: BTreeSet<String> = people
                .iter()
                .filter(|u| {
                    u["emails"]
                        .as_array()
                        .is_some_and(|list| list.iter().any(|e| patch::matches(e, &parsed, emails)))
                })
                .map(|u| u["id"].as_str().unwrap().to_string())
                .collect();
            prop_assert_eq!(&by_sql, &by_patch, "filter {}", text);
            Ok(())
        })
        .unwrap();
}
