//! TXT lookups for domain checks (being written).
