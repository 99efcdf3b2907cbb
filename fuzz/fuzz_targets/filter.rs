//! Any text as a SCIM filter: parsing and translating to SQL for both databases never panics, and
//! what parses translates or is refused with an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_gateway::domain::{filter, filter_sql};
use sea_orm::DbBackend;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parsed) = filter::parse(text) {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let _ = filter_sql::users(&parsed, backend);
            let _ = filter_sql::groups(&parsed, backend);
        }
    }
});
