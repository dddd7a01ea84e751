//! What OpenTelemetry's semantic conventions for MCP fix that servers and
//! clients share.

/// The bucket bounds (seconds) the conventions recommend for
/// `mcp.server.operation.duration`, `mcp.client.operation.duration` and the
/// session durations.
pub const DURATION_BOUNDS: [f64; 14] = [
    0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
