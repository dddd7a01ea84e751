//! The demo MCP server as an AWS Lambda function (`docs/deployment.md`).
//!
//! ```text
//! cargo lambda build --release -p examples-lambda --bin mcp_lambda
//! cargo lambda deploy mcp_lambda --enable-function-url
//! ```

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // JSON lines on stderr, which CloudWatch Logs indexes.
    let _telemetry = examples::init_logging_as(true);
    lambda_http::run(examples_lambda::endpoint()).await
}
