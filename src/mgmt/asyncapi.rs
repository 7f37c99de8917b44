//! The AsyncAPI 2.0.0 document of an SSE API, as WSO2 emits it: the gateway as the
//! `production` server (protocol `sse`), one subscribe channel per topic, and the OAuth2
//! client-credentials flow that protects it.

use serde_json::{Map, Value, json};

use crate::catalog::Api;

/// The AsyncAPI version emitted.
pub const ASYNCAPI_VERSION: &str = "2.0.0";

/// The document for `api`, served by the gateway at `gateway_url`, with tokens from
/// `token_url`.
pub fn document(api: &Api, gateway_url: &str, token_url: &str) -> Value {
    let server_url = format!("{}{}", gateway_url.trim_end_matches('/'), api.base_path());
    let channels: Map<String, Value> = api
        .topics
        .iter()
        .map(|topic| {
            let example = if topic.ends_with('*') {
                format!("{}memory", topic.trim_end_matches('*'))
            } else {
                topic.clone()
            };
            (
                topic.clone(),
                json!({
                    "description": format!(
                        "Server-Sent Events at {server_url}{example} (the topic `{topic}`)"
                    ),
                    "subscribe": {
                        "operationId": format!("subscribe{}", operation_suffix(topic)),
                        "message": {
                            "contentType": "text/event-stream",
                            "payload": {"type": "string"}
                        }
                    },
                    "x-auth-type": "Application & Application User"
                }),
            )
        })
        .collect();
    json!({
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": api.name,
            "version": api.version,
            "description": api.description,
        },
        "defaultContentType": "text/event-stream",
        "servers": {
            "production": {
                "url": server_url,
                "protocol": "sse",
                "description": "streamgate gateway",
                "security": [{"oauth2": []}]
            }
        },
        "channels": channels,
        "components": {
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "description": "A bearer JWT from the client-credentials grant, \
                                    sent as `Authorization: Bearer <token>`",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": token_url,
                            "scopes": {}
                        }
                    }
                }
            }
        }
    })
}

/// `/*` -> `All`, `/prices/eur` -> `PricesEur`: a readable operation id.
fn operation_suffix(topic: &str) -> String {
    let parts: String = topic
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut chars = s.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    if parts.is_empty() {
        "All".to_string()
    } else {
        parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ApiDraft;

    #[test]
    fn the_document_names_server_channels_and_security() {
        let api = Api::from_draft(
            "id".into(),
            ApiDraft {
                name: "Observer".into(),
                context: "/observer".into(),
                version: "1.0.0".into(),
                production_endpoint: Some("http://localhost:8080".into()),
                ..ApiDraft::default()
            },
            1,
        );
        let doc = document(
            &api,
            "http://localhost:8280/",
            "http://127.0.0.1:9443/oauth2/token",
        );
        assert_eq!(doc["asyncapi"], "2.0.0");
        assert_eq!(
            doc["servers"]["production"]["url"],
            "http://localhost:8280/observer/1.0.0"
        );
        assert_eq!(doc["servers"]["production"]["protocol"], "sse");
        assert_eq!(
            doc["channels"]["/*"]["subscribe"]["operationId"],
            "subscribeAll"
        );
        assert_eq!(
            doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["tokenUrl"],
            "http://127.0.0.1:9443/oauth2/token"
        );
        assert_eq!(operation_suffix("/prices/eur"), "PricesEur");
    }
}
