//! The `alibaba-ecs` client: RPC requests to ECS API 2014-05-26.
//!
//! A call becomes `GET /?<params>&Signature=...` with the common parameters
//! added (JSON by default, a fresh nonce and the current UTC time). A case
//! may set any common parameter itself — `Format: XML`, an old
//! `Timestamp`, a fixed `SignatureNonce`, another `Action` — and the request
//! is signed after that, so the server judges the parameter, not a broken
//! signature. Replies come back as JSON or XML; an error is the
//! `{RequestId, HostId, Code, Message, Recommend}` envelope.

use serde_json::Value;

use super::{alibaba_rpc, xml, Call, ClientDialect, Decoded, VendorError, WireRequest};

pub const VERSION: &str = "2014-05-26";

pub struct AlibabaEcsClient;

impl ClientDialect for AlibabaEcsClient {
    fn encode(&self, call: &Call<'_>) -> WireRequest {
        let given = |name: &str| call.params.iter().any(|(k, _)| k == name);
        let mut params: Vec<(String, String)> = Vec::with_capacity(call.params.len() + 9);
        let defaults: [(&str, &dyn Fn() -> String); 8] = [
            ("Action", &|| call.operation.to_string()),
            ("Version", &|| VERSION.to_string()),
            ("Format", &|| "JSON".to_string()),
            ("AccessKeyId", &|| call.credentials.access_key_id.clone()),
            ("SignatureMethod", &|| "HMAC-SHA1".to_string()),
            ("SignatureVersion", &|| "1.0".to_string()),
            ("SignatureNonce", &|| uuid::Uuid::new_v4().to_string()),
            ("Timestamp", &|| {
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
            }),
        ];
        for (name, make) in defaults {
            if !given(name) {
                params.push((name.to_string(), make()));
            }
        }
        params.extend(call.params.iter().cloned());
        let query =
            alibaba_rpc::signed_query("GET", &params, call.credentials.access_key_secret.expose());
        WireRequest {
            method: "GET",
            path_and_query: format!("/?{query}"),
            headers: Vec::new(),
            body: None,
        }
    }

    fn decode(&self, status: u16, body: &[u8]) -> Decoded {
        let text = String::from_utf8_lossy(body);
        let trimmed = text.trim_start();
        if trimmed.starts_with('<') {
            return match xml::xml_to_json(trimmed) {
                Ok((root, value)) => {
                    let error = (root == "Error").then(|| envelope_error(&value)).flatten();
                    Decoded {
                        status,
                        body: value,
                        xml: true,
                        error,
                    }
                }
                Err(e) => unreadable(status, &text, &e.to_string()),
            };
        }
        match serde_json::from_str::<Value>(trimmed) {
            Ok(value) => {
                let error = if (200..300).contains(&status) {
                    None
                } else {
                    envelope_error(&value)
                };
                Decoded {
                    status,
                    body: value,
                    xml: false,
                    error,
                }
            }
            Err(e) => unreadable(status, &text, &format!("not JSON: {e}")),
        }
    }

    fn redacted_params(&self) -> &'static [&'static str] {
        &["Signature"]
    }
}

fn envelope_error(body: &Value) -> Option<VendorError> {
    let code = body.get("Code")?.as_str()?.to_string();
    let message = body
        .get("Message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Some(VendorError { code, message })
}

/// A body the dialect cannot read still reaches the report, as text.
fn unreadable(status: u16, text: &str, why: &str) -> Decoded {
    Decoded {
        status,
        body: Value::String(text.to_string()),
        xml: false,
        error: (!(200..300).contains(&status)).then(|| VendorError {
            code: String::new(),
            message: format!("unreadable body ({why})"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{Credentials, Secret};

    fn creds() -> Credentials {
        Credentials {
            access_key_id: "testid".into(),
            access_key_secret: Secret::new("testsecret"),
        }
    }

    #[test]
    fn case_parameters_override_common_ones_and_are_signed() {
        let params = vec![
            ("Format".to_string(), "XML".to_string()),
            ("Timestamp".to_string(), "2016-02-23T12:46:24Z".to_string()),
            ("RegionId".to_string(), "cn-hangzhou".to_string()),
        ];
        let c = creds();
        let req = AlibabaEcsClient.encode(&Call {
            operation: "DescribeNetworkInterfaces",
            params: &params,
            credentials: &c,
        });
        let query = req.path_and_query.strip_prefix("/?").unwrap();
        let sent = alibaba_rpc::parse_query(query);
        let get = |k: &str| {
            sent.iter()
                .filter(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("Format"), ["XML"]);
        assert_eq!(get("Timestamp"), ["2016-02-23T12:46:24Z"]);
        assert_eq!(get("Action"), ["DescribeNetworkInterfaces"]);
        let signature = get("Signature")[0].to_string();
        assert_eq!(alibaba_rpc::sign_v1("GET", &sent, "testsecret"), signature);
    }

    #[test]
    fn decodes_json_and_xml_errors() {
        let json = br#"{"RequestId":"R","HostId":"ecs.aliyuncs.com","Code":"InvalidEniId.NotFound","Message":"m","Recommend":"r"}"#;
        let d = AlibabaEcsClient.decode(404, json);
        assert_eq!(d.error.unwrap().code, "InvalidEniId.NotFound");
        let xml = b"<?xml version=\"1.0\"?><Error><RequestId>R</RequestId><Code>MissingParameter</Code><Message>m</Message></Error>";
        let d = AlibabaEcsClient.decode(403, xml);
        assert!(d.xml);
        assert_eq!(d.error.unwrap().code, "MissingParameter");
        let d = AlibabaEcsClient.decode(200, br#"{"RequestId":"R"}"#);
        assert!(d.error.is_none());
        let d = AlibabaEcsClient.decode(502, b"Bad Gateway");
        assert!(d.error.unwrap().message.contains("unreadable"));
    }
}
