//! A workspace's claimed e-mail domains: claim, check (DNS TXT), verify, lapse, remove.

pub mod dns;
