//! The operator console: one page (`/console`) and its JSON API (`/console/api/…`), served by
//! the `console` function behind the HTTP API.
//!
//! **Security.** Every API call needs a session ([`session`]): a signed, `HttpOnly`,
//! `SameSite=Strict` cookie naming the person and their role. In AWS the session is opened by
//! `POST /console/api/session`, behind the HTTP API's JWT authorizer (the Cognito user pool;
//! the role comes from the `cognito:groups` claim); locally, and only when
//! `CONSOLE_DEV_LOGIN=true` outside prod, by the clearly labelled dev login. Viewers read with
//! PII masked; operators may also change things. Every state change needs the session's CSRF
//! token in `X-CSRF-Token` and is audited (who, what, when, before, after). Every response
//! carries a strict Content Security Policy (scripts and styles from the console itself only),
//! `nosniff`, no framing, no referrer; API answers are never cached. Nothing identifying goes in
//! URLs beyond the ids searched for, and card data does not exist to be shown.

pub mod api;
pub mod session;
pub mod wiring;

use lambda_http::{Body, Request, Response};
use o2c_runtime::lambda::HttpHandler;
use serde_json::{json, Value};
use session::{AuthError, Role, Session, Sessions};

/// The page and its assets, bundled into the binary (no CDN, nothing fetched at run time).
const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

/// The Content Security Policy of every response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A response with the console's security headers.
pub fn respond(
    status: u16,
    content_type: &str,
    body: String,
    extra: &[(&str, String)],
) -> Response<Body> {
    let mut b = Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("content-security-policy", CSP)
        .header("x-content-type-options", "nosniff")
        .header("x-frame-options", "DENY")
        .header("referrer-policy", "no-referrer")
        .header("cache-control", "no-store");
    for (k, v) in extra {
        b = b.header(*k, v.as_str());
    }
    b.body(Body::Text(body)).expect("static headers are valid")
}

/// A JSON answer.
pub fn json_answer(status: u16, v: &Value) -> Response<Body> {
    respond(status, "application/json", v.to_string(), &[])
}

/// An RFC 9457 problem.
pub fn problem(status: u16, title: &str, detail: &str) -> Response<Body> {
    respond(
        status,
        "application/problem+json",
        json!({"type": "about:blank", "title": title, "status": status, "detail": detail})
            .to_string(),
        &[],
    )
}

/// How people sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Login {
    /// The HTTP API's JWT authorizer has verified a Cognito token (AWS).
    Cognito,
    /// The local dev login (`CONSOLE_DEV_LOGIN=true`, never in prod): anyone may pick a role.
    Dev,
}

/// The console.
pub struct Console {
    pub sessions: Sessions,
    pub login: Login,
    pub api: api::Api,
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The Cognito identity the JWT authorizer verified: user and role (group `operators` →
/// operator, else viewer).
fn cognito_identity(req: &Request) -> Option<(String, Role)> {
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    let RequestContext::ApiGatewayV2(ctx) = req.request_context_ref()?.clone() else {
        return None;
    };
    let claims = ctx.authorizer?.jwt?.claims;
    let user = claims
        .get("email")
        .or_else(|| claims.get("cognito:username"))?
        .clone();
    let role = match claims.get("cognito:groups") {
        Some(g) if g.contains("operators") => Role::Operator,
        _ => Role::Viewer,
    };
    Some((user, role))
}

impl Console {
    fn session(&self, req: &Request) -> Result<Session, AuthError> {
        self.sessions
            .verify(header(req, "cookie"), self.api.now().epoch_seconds())
    }

    async fn route(&self, req: Request) -> Response<Body> {
        let method = req.method().as_str().to_string();
        let path = req.uri().path().trim_end_matches('/').to_string();
        match (method.as_str(), path.as_str()) {
            // Relative, so it also works below a prefix (`/lambda-url/console/…` locally).
            ("GET", "/console") => respond(
                302,
                "text/plain",
                String::new(),
                &[("location", "console/index.html".into())],
            ),
            ("GET", "/console/index.html") => {
                respond(200, "text/html; charset=utf-8", INDEX_HTML.into(), &[])
            }
            ("GET", "/console/app.js") => {
                respond(200, "text/javascript; charset=utf-8", APP_JS.into(), &[])
            }
            ("GET", "/console/app.css") => {
                respond(200, "text/css; charset=utf-8", APP_CSS.into(), &[])
            }
            ("POST", "/console/api/session") => self.open_session(&req),
            ("GET", "/console/api/session") => match self.session(&req) {
                Ok(s) => json_answer(
                    200,
                    &json!({"user": s.user, "role": s.role, "via": s.via, "csrf": self.sessions.csrf(&s),
                            "stage": self.api.stage, "dev_login": self.login == Login::Dev}),
                ),
                Err(e) => json_answer(
                    401,
                    &json!({"title": "unauthorized", "detail": e.to_string(), "dev_login": self.login == Login::Dev}),
                ),
            },
            _ if path.starts_with("/console/api/") => {
                let session = match self.session(&req) {
                    Ok(s) => s,
                    Err(e) => return problem(401, "unauthorized", &e.to_string()),
                };
                let changes = method != "GET";
                if changes {
                    if !self
                        .sessions
                        .csrf_ok(&session, header(&req, "x-csrf-token"))
                    {
                        tracing::warn!(user = %session.user, %path, "console: state change without a valid CSRF token refused");
                        return problem(
                            403,
                            "csrf",
                            "a state change needs the session's X-CSRF-Token",
                        );
                    }
                    if path == "/console/api/logout" {
                        return respond(
                            204,
                            "text/plain",
                            String::new(),
                            &[("set-cookie", self.sessions.clear())],
                        );
                    }
                    if session.role != Role::Operator {
                        return problem(
                            403,
                            "forbidden",
                            "viewers cannot change anything; ask an operator",
                        );
                    }
                }
                let body: Value =
                    serde_json::from_slice(req.body().as_ref()).unwrap_or(Value::Null);
                let query: Vec<(String, String)> =
                    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                        .into_owned()
                        .collect();
                self.api
                    .call(
                        &method,
                        &path["/console/api".len()..],
                        &query,
                        &body,
                        &session,
                    )
                    .await
            }
            _ => problem(404, "not_found", "no such console page"),
        }
    }

    /// Open a session: from the Cognito identity (AWS), or the dev login's chosen user and
    /// role (local only).
    fn open_session(&self, req: &Request) -> Response<Body> {
        let now = self.api.now().epoch_seconds();
        let (user, role, via) = match self.login {
            Login::Cognito => match cognito_identity(req) {
                Some((u, r)) => (u, r, "cognito"),
                None => return problem(401, "unauthorized", "sign in through the user pool"),
            },
            Login::Dev => {
                // JSON only: a cross-site form cannot send it without a CORS preflight, so no
                // other site can sign a browser in (login CSRF).
                if !header(req, "content-type").is_some_and(|c| c.starts_with("application/json")) {
                    return problem(
                        415,
                        "unsupported_media_type",
                        "send the dev login as application/json",
                    );
                }
                let v: Value = serde_json::from_slice(req.body().as_ref()).unwrap_or(Value::Null);
                let user = v["user"].as_str().unwrap_or("").trim();
                let role = v["role"].as_str().and_then(Role::parse);
                match (user.is_empty() || user.len() > 64, role) {
                    (false, Some(r)) => (user.to_string(), r, "dev-login"),
                    _ => {
                        return problem(
                            400,
                            "bad_request",
                            "dev login: {\"user\": name, \"role\": \"viewer\"|\"operator\"}",
                        )
                    }
                }
            }
        };
        let (cookie, s) = self.sessions.issue(&user, role, via, now);
        tracing::info!(user = %s.user, role = ?s.role, via, "console session opened");
        respond(
            200,
            "application/json",
            json!({"user": s.user, "role": s.role, "via": via, "csrf": self.sessions.csrf(&s), "stage": self.api.stage}).to_string(),
            &[("set-cookie", cookie)],
        )
    }
}

#[async_trait::async_trait]
impl HttpHandler for Console {
    async fn handle(&self, request: Request) -> Response<Body> {
        self.route(request).await
    }
}
