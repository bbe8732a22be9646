//! Serving functions on the Lambda runtime: an SQS consumer (through the batch runner) or an
//! API Gateway HTTP API (v2) handler on `lambda_http` (which turns the API Gateway event into an
//! `http::Request` — headers, base64 bodies, query — and the `http::Response` back).
//!
//! Both serve paths read the invocation's deadline from the Lambda context
//! ([`invocation_deadline`]) and hand it on: to every message of an SQS batch
//! ([`crate::batch::QueueMessage::deadline`]) and to [`HttpHandler::handle_until`]. Handlers bound
//! their external calls (and retries) by it; `FUNCTION_TIMEOUT_SECS` only serves when there is
//! no Lambda context (the local bridge, tests).

use crate::batch::{run_batch_until, DeadLetterSink, MessageHandler};
use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::{Body, Request, RequestExt, Response};
use lambda_runtime::{service_fn, Context, LambdaEvent};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub use lambda_runtime::Error;

/// The invocation's deadline as an [`Instant`]: the context's `deadline` (epoch milliseconds)
/// measured against the wall clock now. `None` when the context carries none (0).
///
/// Lambda's shortest timeout is 1 s, so a real invocation arrives with about its whole timeout
/// left. A deadline less than [`MIN_PLAUSIBLE_LEFT`] away on arrival is a local emulator's
/// placeholder (`cargo lambda watch` sends one), not a budget: it reads as no deadline, and the
/// configured `FUNCTION_TIMEOUT_SECS` budgets apply.
pub fn invocation_deadline(context: &Context) -> Option<Instant> {
    let now = Instant::now();
    deadline_from_epoch_ms(context.deadline, SystemTime::now(), now)
        .filter(|d| d.saturating_duration_since(now) >= MIN_PLAUSIBLE_LEFT)
}

/// See [`invocation_deadline`].
pub const MIN_PLAUSIBLE_LEFT: Duration = Duration::from_secs(1);

/// `deadline_ms` (epoch milliseconds) as an instant, given the wall clock and the monotonic
/// clock at the same moment. A deadline already past is `now`.
pub fn deadline_from_epoch_ms(
    deadline_ms: u64,
    wall_now: SystemTime,
    now: Instant,
) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let left = at.duration_since(wall_now).unwrap_or(Duration::ZERO);
    Some(now + left)
}

/// One SQS invocation: the batch runner under the context's deadline.
pub async fn handle_sqs_event(
    handler: &dyn MessageHandler,
    sink: &dyn DeadLetterSink,
    event: LambdaEvent<SqsEvent>,
) -> SqsBatchResponse {
    let deadline = invocation_deadline(&event.context);
    run_batch_until(handler, sink, event.payload, deadline).await
}

/// Serve an SQS event source mapping with `ReportBatchItemFailures`.
pub async fn serve_sqs(
    handler: Arc<dyn MessageHandler>,
    sink: Arc<dyn DeadLetterSink>,
) -> Result<(), Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let handler = handler.clone();
        let sink = sink.clone();
        async move { Ok::<SqsBatchResponse, Error>(handle_sqs_event(&*handler, &*sink, event).await) }
    }))
    .await
}

/// Handles one HTTP API request (`lambda_http`'s request: the body is the raw bytes as sent,
/// base64 already decoded).
#[async_trait]
pub trait HttpHandler: Send + Sync {
    async fn handle(&self, request: Request) -> Response<Body>;

    /// One request that must be answered before `deadline` (the invocation's, when known).
    /// Handlers that call out override this to bound their calls; by default the deadline is
    /// not used.
    async fn handle_until(&self, request: Request, _deadline: Option<Instant>) -> Response<Body> {
        self.handle(request).await
    }
}

/// One HTTP invocation: the handler under the deadline of the Lambda context `lambda_http`
/// attaches to the request (none outside Lambda).
pub async fn handle_http_request(handler: &dyn HttpHandler, request: Request) -> Response<Body> {
    let deadline = request.lambda_context_ref().and_then(invocation_deadline);
    handler.handle_until(request, deadline).await
}

/// Serve an API Gateway HTTP API (payload format 2.0) route.
pub async fn serve_http(handler: Arc<dyn HttpHandler>) -> Result<(), Error> {
    lambda_http::run(lambda_http::service_fn(move |request: Request| {
        let handler = handler.clone();
        async move { Ok::<Response<Body>, Error>(handle_http_request(&*handler, request).await) }
    }))
    .await
}

/// A JSON response.
pub fn json_response(status: u16, body: &serde_json::Value) -> Response<Body> {
    with_body(status, "application/json", body.to_string())
}

/// An RFC 9457 problem response.
pub fn problem(status: u16, title: &str, detail: &str) -> Response<Body> {
    let body = serde_json::json!({ "type": "about:blank", "title": title, "status": status, "detail": detail });
    with_body(status, "application/problem+json", body.to_string())
}

fn with_body(status: u16, content_type: &'static str, body: String) -> Response<Body> {
    let mut r = Response::new(Body::Text(body));
    *r.status_mut() = lambda_http::http::StatusCode::from_u16(status)
        .unwrap_or(lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        lambda_http::http::header::CONTENT_TYPE,
        lambda_http::http::HeaderValue::from_static(content_type),
    );
    r
}

/// Serve a function invoked directly with a JSON event (dlq-redrive, schedules).
pub async fn serve_json<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(serde_json::Value) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<serde_json::Value, Error>> + Send,
{
    let handler = Arc::new(handler);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let handler = handler.clone();
        async move { handler(event.payload).await }
    }))
    .await
}

/// The handler of a function whose step is not built yet: it acknowledges nothing (every
/// message is retried, so nothing is lost) and says so in the log.
pub struct NotYetImplemented(pub &'static str);

#[async_trait]
impl crate::batch::MessageHandler for NotYetImplemented {
    async fn handle(
        &self,
        _message: &crate::batch::QueueMessage,
    ) -> Result<(), o2c_domain::recipe::StepFailure> {
        Err(o2c_domain::recipe::StepFailure::RetryLater(format!(
            "{} is not implemented yet",
            self.0
        )))
    }
}

#[async_trait]
impl HttpHandler for NotYetImplemented {
    async fn handle(&self, _request: Request) -> Response<Body> {
        problem(
            503,
            "Service Unavailable",
            &format!("{} is not implemented yet", self.0),
        )
    }
}

/// What a function is: its name, the queues it sends to, the queue it consumes (its DLQ takes
/// non-retryable messages), and the secret-id variables it reads.
pub struct FunctionSpec {
    pub name: &'static str,
    pub sends_to: &'static [o2c_domain::ports::QueueName],
    pub consumes: Option<o2c_domain::ports::QueueName>,
    pub secrets: &'static [&'static str],
}

/// Cold start: JSON logs, configuration from the environment (a missing variable is named),
/// and the AWS adapters.
pub async fn boot(
    spec: &FunctionSpec,
) -> Result<(crate::config::FunctionConfig, crate::wiring::Adapters), Error> {
    crate::logging::init();
    let env = crate::config::Env::process();
    let config =
        crate::config::FunctionConfig::load(&env, spec.sends_to, spec.consumes, spec.secrets)
            .inspect_err(
                |e| tracing::error!(function = spec.name, error = %e, "configuration error"),
            )?;
    let adapters = crate::wiring::Adapters::build(&config, &env).await?;
    tracing::info!(function = spec.name, stage = %config.stage, "started");
    Ok((config, adapters))
}

/// Boot and serve an SQS consumer. `make` builds the handler (it may read secrets: failures
/// stop the cold start with a logged error).
pub async fn run_sqs_function<F, Fut>(spec: &FunctionSpec, make: F) -> Result<(), Error>
where
    F: FnOnce(crate::config::FunctionConfig, crate::wiring::Adapters) -> Fut,
    Fut: std::future::Future<Output = Result<Arc<dyn MessageHandler>, Error>>,
{
    let (config, adapters) = boot(spec).await?;
    let sink = adapters
        .dead_letters
        .clone()
        .ok_or("an SQS consumer must name the queue it consumes")?;
    let handler = make(config, adapters)
        .await
        .inspect_err(|e| tracing::error!(function = spec.name, error = %e, "start-up failed"))?;
    serve_sqs(handler, sink).await
}

/// Boot and serve an HTTP API function.
pub async fn run_http_function<F, Fut>(spec: &FunctionSpec, make: F) -> Result<(), Error>
where
    F: FnOnce(crate::config::FunctionConfig, crate::wiring::Adapters) -> Fut,
    Fut: std::future::Future<Output = Result<Arc<dyn HttpHandler>, Error>>,
{
    let (config, adapters) = boot(spec).await?;
    let handler = make(config, adapters)
        .await
        .inspect_err(|e| tracing::error!(function = spec.name, error = %e, "start-up failed"))?;
    serve_http(handler).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{DeadLetter, QueueMessage};
    use aws_lambda_events::event::sqs::SqsMessage;
    use o2c_domain::recipe::StepFailure;
    use std::sync::Mutex;

    #[test]
    fn epoch_deadlines_become_instants() {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_000);
        let now = Instant::now();
        assert_eq!(
            deadline_from_epoch_ms(1_800_000_012_345, wall, now),
            Some(now + Duration::from_millis(12_345))
        );
        // Already past: no time left.
        assert_eq!(
            deadline_from_epoch_ms(1_799_999_999_000, wall, now),
            Some(now)
        );
        // No deadline in the context.
        assert_eq!(deadline_from_epoch_ms(0, wall, now), None);
    }

    #[derive(Default)]
    struct Seen(Mutex<Vec<Option<Instant>>>);

    #[async_trait]
    impl MessageHandler for Seen {
        async fn handle(&self, m: &QueueMessage) -> Result<(), StepFailure> {
            self.0.lock().unwrap().push(m.deadline);
            Ok(())
        }
    }

    struct NoSink;

    #[async_trait]
    impl DeadLetterSink for NoSink {
        async fn dead_letter(&self, _: &DeadLetter) -> Result<(), String> {
            Err("unused".into())
        }
    }

    #[test]
    fn an_emulators_placeholder_deadline_reads_as_none() {
        let wall_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let mut context = Context::default();
        for (deadline, real) in [
            (0, false),
            (wall_ms.saturating_sub(5_000), false),
            (wall_ms + 200, false),
            (wall_ms + 30_000, true),
        ] {
            context.deadline = deadline;
            assert_eq!(invocation_deadline(&context).is_some(), real, "{deadline}");
        }
    }

    #[test]
    fn the_sqs_serve_path_passes_the_contexts_deadline_to_the_handler() {
        let mut context = Context::default();
        let wall_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        context.deadline = wall_ms + 12_000;
        let expected = Instant::now() + Duration::from_millis(12_000);
        let mut payload = SqsEvent::default();
        for id in ["1", "2"] {
            let mut m = SqsMessage::default();
            m.message_id = Some(id.into());
            m.body = Some("{}".into());
            payload.records.push(m);
        }
        let h = Seen::default();
        let r = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(handle_sqs_event(
                &h,
                &NoSink,
                LambdaEvent::new(payload, context),
            ));
        assert!(r.batch_item_failures.is_empty());
        let seen = h.0.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        for d in seen {
            let d = d.expect("the handler got the context's deadline");
            // The context's epoch-ms deadline, give or take the clock reads of this test.
            let off = if d > expected {
                d - expected
            } else {
                expected - d
            };
            assert!(off < Duration::from_millis(100), "off by {off:?}");
        }
    }

    struct SeenHttp(Mutex<Vec<Option<Instant>>>);

    #[async_trait]
    impl HttpHandler for SeenHttp {
        async fn handle(&self, _request: Request) -> Response<Body> {
            unreachable!("the serve path calls handle_until")
        }

        async fn handle_until(
            &self,
            _request: Request,
            deadline: Option<Instant>,
        ) -> Response<Body> {
            self.0.lock().unwrap().push(deadline);
            json_response(200, &serde_json::json!({}))
        }
    }

    #[test]
    fn the_http_serve_path_passes_the_contexts_deadline_to_the_handler() {
        let wall_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let mut context = Context::default();
        context.deadline = wall_ms + 9_000;
        let expected = Instant::now() + Duration::from_millis(9_000);
        let h = SeenHttp(Mutex::new(Vec::new()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let with = Request::new(Body::Empty).with_lambda_context(context);
        let r = rt.block_on(handle_http_request(&h, with));
        assert_eq!(r.status(), 200);
        // Outside Lambda (no context on the request): no deadline.
        rt.block_on(handle_http_request(&h, Request::new(Body::Empty)));
        let seen = h.0.lock().unwrap().clone();
        let d = seen[0].expect("the handler got the context's deadline");
        let off = if d > expected {
            d - expected
        } else {
            expected - d
        };
        assert!(off < Duration::from_millis(100), "off by {off:?}");
        assert_eq!(seen[1], None);
    }

    #[test]
    fn problems_are_rfc9457_json() {
        let r = problem(422, "card_data_refused", "no card data");
        assert_eq!(r.status(), 422);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let Body::Text(t) = r.body() else {
            panic!("text body")
        };
        let v: serde_json::Value = serde_json::from_str(t).unwrap();
        assert_eq!(v["title"], "card_data_refused");
        assert_eq!(v["status"], 422);
    }
}
