//! Serving functions on the Lambda runtime: an SQS consumer (through the batch runner) or an
//! API Gateway HTTP API (v2) handler.

use crate::batch::{run_batch, DeadLetterSink, MessageHandler};
use async_trait::async_trait;
use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, LambdaEvent};
use std::sync::Arc;

pub use lambda_runtime::Error;

/// Serve an SQS event source mapping with `ReportBatchItemFailures`.
pub async fn serve_sqs(
    handler: Arc<dyn MessageHandler>,
    sink: Arc<dyn DeadLetterSink>,
) -> Result<(), Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let handler = handler.clone();
        let sink = sink.clone();
        async move { Ok::<SqsBatchResponse, Error>(run_batch(&*handler, &*sink, event.payload).await) }
    }))
    .await
}

/// Handles one HTTP API request.
#[async_trait]
pub trait HttpHandler: Send + Sync {
    async fn handle(&self, request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse;
}

/// Serve an API Gateway HTTP API (payload format 2.0) route.
pub async fn serve_http(handler: Arc<dyn HttpHandler>) -> Result<(), Error> {
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2httpRequest>| {
            let handler = handler.clone();
            async move { Ok::<ApiGatewayV2httpResponse, Error>(handler.handle(event.payload).await) }
        },
    ))
    .await
}

/// A JSON response.
pub fn json_response(status: u16, body: &serde_json::Value) -> ApiGatewayV2httpResponse {
    let mut r = ApiGatewayV2httpResponse::default();
    r.status_code = i64::from(status);
    if let Ok(v) = "application/json".parse() {
        r.headers.insert("content-type", v);
    }
    r.body = Some(Body::Text(body.to_string()));
    r
}

/// An RFC 9457 problem response.
pub fn problem(status: u16, title: &str, detail: &str) -> ApiGatewayV2httpResponse {
    let mut r = json_response(
        status,
        &serde_json::json!({ "type": "about:blank", "title": title, "status": status, "detail": detail }),
    );
    if let Ok(v) = "application/problem+json".parse() {
        r.headers.insert("content-type", v);
    }
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
    async fn handle(&self, _request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
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
