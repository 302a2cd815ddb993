//! The gateway's own routes: `POST /v1/forward` (the request in the clear over TLS,
//! sealed by the gateway to each target node), `GET /v1/nodes` and the test faucet.
//! Bodies on the wire are base64 strings; decoding them is the reader's (the wallet and
//! the gateway already link a base64 codec, this crate links none).

use serde::{Deserialize, Serialize};
use vigil_protocol::{Address, Amount, EncryptionKey, Hash32, Height, NodeId, TxHash};

use crate::ErrorDetail;

/// `POST /v1/forward`: exactly one of `target` and `targets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardRequest {
    /// One node: the answer is that node's ([`NodeAnswer`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Several nodes, or `"all"`: every node's answer or error, separately ([`FanOutAnswer`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<Targets>,
    pub request: InnerRequest,
}

/// The nodes a fan-out goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Targets {
    /// `"all"`: every node the gateway routes to.
    All(String),
    List(Vec<String>),
}

/// The request a node is to answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InnerRequest {
    #[serde(default = "get_method")]
    pub method: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

fn get_method() -> String {
    "GET".into()
}

crate::answer! {
/// One node's answer in a forward response: the node's status, content type and body
/// (base64) — or, when the node gave none, the gateway's error about it. `J`: the body
/// again as JSON when it is JSON (the gateway embeds it as the node wrote it, for
/// people and scripts; readers that verify decode `body_base64` and ignore it).
pub struct NodeAnswer<J> {
    pub node: NodeId,
    pub name: Option<String>,
    /// The node's HTTP status, or the gateway's for `error`.
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<J>,
    /// The node gave no answer through this gateway (unreachable, timed out, not routed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}
}

crate::answer! {
/// A fan-out's answer: each node's, in the order asked.
pub struct FanOutAnswer<J> {
    pub answers: Vec<NodeAnswer<J>>,
}
}

/// `GET /v1/nodes`: the set the gateway follows and how each node it routes to is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodesAnswer {
    pub validator_set_hash: Hash32,
    /// Certified validator-set changes the gateway has followed since genesis.
    pub set_changes_followed: u64,
    pub nodes: Vec<NodeHealth>,
}

/// What `GET /v1/nodes` shows about one node. Health is the gateway's view: an order
/// of calls for clients, nothing trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeHealth {
    pub id: NodeId,
    pub name: String,
    pub encryption_key: EncryptionKey,
    pub healthy: bool,
    pub failures_in_a_row: u32,
    pub last_error: Option<String>,
}

/// `GET /v1/faucet`: the test faucet's account and what it gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaucetInfo {
    pub address: Address,
    pub amount: u64,
}

/// `POST /v1/faucet`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaucetRequest {
    /// `vigil1…`; checked by the gateway (a typo is `BAD_ADDRESS`, not a transfer).
    pub address: String,
}

/// `POST /v1/faucet`: the committed transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funded {
    pub tx_hash: TxHash,
    pub amount: Amount,
    pub to: Address,
    pub height: Height,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn node() -> NodeId {
        NodeId::from_public_key(&vigil_protocol::SecretKey::from_seed([3; 32]).public_key())
    }

    #[test]
    fn an_answer_and_a_failure_read_back_as_written() {
        let answered = NodeAnswer::<serde_json::Value> {
            node: node(),
            name: Some("node-0".into()),
            status: 200,
            content_type: Some("application/json".into()),
            body_base64: Some("e30=".into()),
            json: Some(serde_json::json!({})),
            error: None,
        };
        let failed = NodeAnswer::<serde_json::Value> {
            node: node(),
            name: None,
            status: 504,
            content_type: None,
            body_base64: None,
            json: None,
            error: Some(ErrorDetail { code: ErrorCode::NodeTimeout, message: "slow".into() }),
        };
        let text = serde_json::to_string(&FanOutAnswer { answers: vec![answered.clone(), failed.clone()] }).unwrap();
        assert!(!text.contains("\"error\":null"), "absent parts are left out: {text}");
        // A reader that verifies ignores the embedded JSON.
        let back: FanOutAnswer<serde::de::IgnoredAny> = serde_json::from_str(&text).unwrap();
        assert_eq!(back.answers.len(), 2);
        assert_eq!(back.answers[0].body_base64, answered.body_base64);
        assert_eq!(back.answers[1].error, failed.error);
        assert!(back.answers[1].body_base64.is_none());
    }

    #[test]
    fn a_forward_request_takes_one_or_several_targets() {
        let r: ForwardRequest = serde_json::from_str(r#"{"targets":"all","request":{"path":"/v1/status"}}"#).unwrap();
        assert_eq!(r.targets, Some(Targets::All("all".into())));
        assert_eq!(r.request.method, "GET", "the method defaults to GET");
        let unknown = serde_json::from_str::<ForwardRequest>(r#"{"target":"x","request":{"path":"/","verb":"GET"}}"#);
        assert!(unknown.is_err(), "a misspelt field is refused, not ignored");
    }
}
