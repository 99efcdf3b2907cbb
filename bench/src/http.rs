//! A minimal keep-alive HTTP/1.1 client: one connection per simulated IdP client, so the
//! generator costs little next to the server it measures.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    auth: Option<String>,
}

pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Conn {
    pub async fn open(addr: &str, auth: Option<String>) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).ok();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Conn {
            sender,
            host: addr.to_string(),
            auth,
        }
    }

    pub async fn send(&mut self, method: &str, path: &str, body: Option<&str>) -> Reply {
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host)
            .header("user-agent", "Okta SCIM Client (scim-bench)");
        if let Some(auth) = &self.auth {
            request = request.header("authorization", auth);
        }
        let body = match body {
            Some(b) => {
                request = request.header("content-type", "application/scim+json");
                Full::new(Bytes::from(b.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        self.sender.ready().await.expect("connection ready");
        let response = self
            .sender
            .send_request(request.body(body).expect("request"))
            .await
            .expect("response");
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Reply { status, body }
    }
}
