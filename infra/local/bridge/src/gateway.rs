//! A local stand-in for API Gateway's HTTP API in front of the webhook functions: it turns each
//! HTTP request into the payload-format-2.0 event Lambda would receive (raw body, lower-cased
//! headers, `isBase64Encoded` for non-UTF-8 bodies), hands it through `lambda_http`'s own
//! conversion (as on Lambda) and answers with the handler's response.
//! Used by in-process end-to-end tests and by the local run when the functions run in-process.

use aws_lambda_events::event::apigw::{
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext,
    ApiGatewayV2httpRequestContextHttpDescription,
};
use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use lambda_http::request::LambdaRequest;
use lambda_http::Body as LambdaBody;
use o2c_runtime::lambda::HttpHandler;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// API Gateway's payload limit for HTTP APIs (10 MB); the functions enforce their own caps.
const MAX_BODY: usize = 10 * 1024 * 1024;

/// Routes (`POST /webhooks/clarity`, ...) to handlers.
#[derive(Clone, Default)]
pub struct Routes(HashMap<String, Arc<dyn HttpHandler>>);

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn post(mut self, path: &str, handler: Arc<dyn HttpHandler>) -> Self {
        self.0.insert(format!("POST {path}"), handler);
        self
    }

    /// Every method on `path` and below it (`/console`, `/console/{proxy+}`).
    pub fn under(mut self, path: &str, handler: Arc<dyn HttpHandler>) -> Self {
        self.0.insert(format!("* {path}"), handler);
        self
    }

    fn find(&self, method: &str, path: &str) -> Option<Arc<dyn HttpHandler>> {
        if let Some(h) = self.0.get(&format!("{method} {path}")) {
            return Some(h.clone());
        }
        self.0
            .iter()
            .filter_map(|(k, h)| k.strip_prefix("* ").map(|p| (p, h)))
            .find(|(p, _)| path == *p || path.starts_with(&format!("{p}/")))
            .map(|(_, h)| h.clone())
    }
}

/// Serve `routes` on 127.0.0.1:`port` (0 = a free port). Returns the bound address; the server
/// runs until the runtime stops.
pub async fn serve(routes: Routes, port: u16) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let routes = Arc::new(routes);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let routes = routes.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let routes = routes.clone();
                    async move { Ok::<_, std::convert::Infallible>(dispatch(&routes, req).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

async fn dispatch(routes: &Routes, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let key = format!("{} {}", req.method(), req.uri().path());
    let Some(handler) = routes.find(req.method().as_str(), req.uri().path()) else {
        return text(StatusCode::NOT_FOUND, r#"{"message":"Not Found"}"#);
    };
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                r#"{"message":"Request Entity Too Large"}"#,
            )
        }
    };
    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".into());
    event.route_key = Some(key.clone());
    event.raw_path = Some(parts.uri.path().to_string());
    event.raw_query_string = Some(parts.uri.query().unwrap_or("").to_string());
    for (name, value) in &parts.headers {
        event.headers.append(name.clone(), value.clone());
    }
    match std::str::from_utf8(&bytes) {
        Ok(s) => {
            event.body = Some(s.to_string());
            event.is_base64_encoded = false;
        }
        Err(_) => {
            event.body = Some(base64::engine::general_purpose::STANDARD.encode(&bytes));
            event.is_base64_encoded = true;
        }
    }
    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = parts.method;
    http.path = Some(parts.uri.path().to_string());
    http.source_ip = Some("127.0.0.1".into());
    let mut ctx = ApiGatewayV2httpRequestContext::default();
    ctx.http = http;
    ctx.route_key = Some(key);
    ctx.stage = Some("$default".into());
    event.request_context = ctx;

    let request = lambda_http::Request::from(LambdaRequest::ApiGatewayV2(event));
    let (parts, body) = handler.handle(request).await.into_parts();
    let body = match body {
        LambdaBody::Text(t) => Bytes::from(t),
        LambdaBody::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    Response::from_parts(parts, Full::new(body))
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r
}
