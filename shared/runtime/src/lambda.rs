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
