//! Params of the notifications shared by both eras: progress, cancellation
//! and the parameterless "something changed" ones.

use serde::{Deserialize, Serialize};

use crate::jsonrpc::RequestId;
use crate::meta::{NotificationMeta, ProgressToken};

/// Params of notifications that carry nothing but `_meta`
/// (`notifications/initialized`, the `list_changed` family).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NotificationParams {
    /// Notification metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<NotificationMeta>,
}

impl NotificationParams {
    /// Params tagged with the `subscriptions/listen` request they belong to.
    pub fn for_subscription(id: RequestId) -> Self {
        Self {
            meta: Some(NotificationMeta {
                subscription_id: Some(id),
                ..NotificationMeta::default()
            }),
        }
    }
}

/// Params of `notifications/progress`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ProgressParams {
    /// The token from the request's `_meta.progressToken`.
    pub progress_token: ProgressToken,
    /// Progress so far; must increase with each notification.
    pub progress: f64,
    /// Total, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
    /// A message (2025-03-26 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Notification metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<NotificationMeta>,
}

impl ProgressParams {
    /// `progress` for `token`.
    pub fn new(token: ProgressToken, progress: f64) -> Self {
        Self {
            progress_token: token,
            progress,
            total: None,
            message: None,
            meta: None,
        }
    }

    /// Sets the total.
    #[must_use]
    pub fn with_total(mut self, total: f64) -> Self {
        self.total = Some(total);
        self
    }

    /// Sets the message.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// Params of `notifications/cancelled`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CancelledParams {
    /// The request to cancel (required except for 2025-11-25 task
    /// cancellation, which does not use this notification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<RequestId>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Notification metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<NotificationMeta>,
}

impl CancelledParams {
    /// Cancel request `id`.
    pub fn new(id: RequestId) -> Self {
        Self {
            request_id: Some(id),
            reason: None,
            meta: None,
        }
    }

    /// Sets the reason.
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}
