//! `subscriptions/listen` (2026-07-28): one long-lived request whose stream
//! carries the notifications the client opted into.

use serde::{Deserialize, Serialize};

use crate::jsonrpc::RequestId;
use crate::meta::{NotificationMeta, RequestMeta, ResultMeta};
use crate::result::ResultType;

/// Which notifications a subscription carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriptionFilter {
    /// `notifications/tools/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools_list_changed: Option<bool>,
    /// `notifications/prompts/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts_list_changed: Option<bool>,
    /// `notifications/resources/list_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources_list_changed: Option<bool>,
    /// `notifications/resources/updated` for these URIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_subscriptions: Option<Vec<String>>,
    /// `notifications/tasks` for these task ids (tasks extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_ids: Option<Vec<String>>,
}

setters!(SubscriptionFilter {
    /// Opts into tool list changes.
    with_tools_list_changed => tools_list_changed: bool,
    /// Opts into prompt list changes.
    with_prompts_list_changed => prompts_list_changed: bool,
    /// Opts into resource list changes.
    with_resources_list_changed => resources_list_changed: bool,
    /// Opts into updates of these resources.
    with_resource_subscriptions => resource_subscriptions: Vec<String>,
    /// Opts into updates of these tasks.
    with_task_ids => task_ids: Vec<String>,
});

/// Params of `subscriptions/listen`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ListenParams {
    /// What to deliver.
    pub notifications: SubscriptionFilter,
    /// Request metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<RequestMeta>,
}

impl ListenParams {
    /// Listen for `notifications`.
    pub fn new(notifications: SubscriptionFilter) -> Self {
        Self {
            notifications,
            meta: None,
        }
    }
}

/// Params of `notifications/subscriptions/acknowledged`: the subset of the
/// filter the server will honour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcknowledgedParams {
    /// What will be delivered.
    pub notifications: SubscriptionFilter,
    /// Notification metadata (`subscriptionId`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<NotificationMeta>,
}

impl AcknowledgedParams {
    /// Acknowledges `notifications` for subscription `id`.
    pub fn new(id: RequestId, notifications: SubscriptionFilter) -> Self {
        Self {
            notifications,
            meta: Some(NotificationMeta {
                subscription_id: Some(id),
                ..NotificationMeta::default()
            }),
        }
    }
}

/// The final answer to `subscriptions/listen`, sent when the server ends
/// the subscription gracefully.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ListenResult {
    /// `"complete"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType>,
    /// Carries the `subscriptionId` (required).
    #[serde(rename = "_meta")]
    pub meta: ResultMeta,
}

impl ListenResult {
    /// The end of subscription `id`.
    pub fn new(id: RequestId) -> Self {
        Self {
            result_type: Some(ResultType::Complete),
            meta: ResultMeta {
                subscription_id: Some(id),
                ..ResultMeta::default()
            },
        }
    }
}
