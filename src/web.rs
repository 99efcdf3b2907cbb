//! The settings page and the GraphQL playground: static files built from `web/` (Vite) into
//! `web/dist`, served by this process. Without a build, a short page says how to make one.

use std::path::Path;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use tower_http::services::{ServeDir, ServeFile};

use crate::state::AppState;

const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>scim-gateway</title></head>\
<body><h1>scim-gateway</h1><p>The web page is not built. Run <code>make run</code> (it builds <code>web/</code>), \
or <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>.</p><p>The GraphQL API is at <code>/graphql</code>.</p></body></html>";

pub fn router(web_dir: &Path) -> Router<AppState> {
    if !web_dir.join("index.html").is_file() {
        let not_built = || async { (StatusCode::SERVICE_UNAVAILABLE, Html(NOT_BUILT)) };
        return Router::new()
            .route("/", get(not_built))
            .route("/graphql/playground", get(not_built));
    }
    Router::new()
        .route_service(
            "/graphql/playground",
            ServeFile::new(web_dir.join("playground.html")),
        )
        .fallback_service(ServeDir::new(web_dir))
}
