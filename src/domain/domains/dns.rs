//! TXT lookups for domain checks (placeholder until the hickory resolver lands).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxtAnswer {
    Records(Vec<String>),
    Missing,
    Unavailable(String),
}

#[derive(Clone)]
pub struct TxtResolver;

impl TxtResolver {
    pub fn new(_server: Option<std::net::SocketAddr>) -> Result<Self, String> {
        Err("not built yet".into())
    }

    pub async fn txt(&self, _name: &str) -> TxtAnswer {
        TxtAnswer::Unavailable("not built yet".into())
    }
}
