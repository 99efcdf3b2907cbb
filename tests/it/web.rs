//! The built page and playground are served by the gateway and load nothing from elsewhere.
//! Needs `web/dist`: the test command builds it first (`scripts/build-web.sh`).

use crate::common::TestApp;

fn asset_refs(html: &str) -> Vec<String> {
    let mut refs = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            let end = rest.find('"').unwrap();
            refs.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    refs
}

#[tokio::test]
async fn page_and_playground_are_self_hosted() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/dist/playground.html");
    assert!(
        dist.is_file(),
        "web/dist is not built: run `make test` or `scripts/build-web.sh`"
    );
    let app = TestApp::spawn().await;
    for page in ["/", "/graphql/playground"] {
        let response = app
            .client
            .get(format!("{}{page}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{page}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = response.text().await.unwrap();
        let refs = asset_refs(&html);
        assert!(
            refs.iter().any(|r| r.ends_with(".js")),
            "{page} has no script: {html}"
        );
        for r in refs {
            assert!(
                r.starts_with('/') && !r.starts_with("//"),
                "{page} loads {r} from elsewhere"
            );
            let asset = app
                .client
                .get(format!("{}{r}", app.url))
                .send()
                .await
                .unwrap();
            assert_eq!(asset.status(), 200, "{r}");
            let body = asset.text().await.unwrap();
            for cdn in [
                "unpkg.com",
                "jsdelivr.net",
                "esm.sh",
                "cdnjs.",
                "fonts.googleapis.com",
            ] {
                assert!(!body.contains(cdn), "{r} refers to {cdn}");
            }
        }
    }
}
