//! NAVER Cloud Platform's VPC server API v2 (`/vserver/v2/<action>`):
//! the API Gateway signature v2 and the client.
//!
//! The signature (SIGNING.md A4) is Base64 HMAC-SHA256 of
//! `METHOD + " " + path?query + "\n" + timestamp_ms + "\n" + accessKey`,
//! sent in `x-ncp-apigw-signature-v2` beside `x-ncp-apigw-timestamp` and
//! `x-ncp-iam-access-key`; the body is not signed. The official Python SDK
//! sends the same value under `x-ncp-apigw-signature-v1` and signs the
//! query unencoded while sending it encoded: the client can do either
//! (signing variants `v2` and `sdk`), the emulator accepts both. Replies are
//! wrapped in `<action>Response`, in XML (the default) or JSON; a service
//! error is `responseError {returnCode, returnMessage}`, a gateway error
//! `error {errorCode, message}`.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use super::{
    apply_header_overrides, xml, Call, ClientDialect, Decoded, Method, SentRequest, VendorError,
    WireRequest,
};

/// Where every action lives: `/vserver/v2/<action>`.
pub const PREFIX: &str = "/vserver/v2/";

pub const TIMESTAMP: &str = "x-ncp-apigw-timestamp";
pub const ACCESS_KEY: &str = "x-ncp-iam-access-key";
pub const SIGNATURE_V2: &str = "x-ncp-apigw-signature-v2";
pub const SIGNATURE_V1: &str = "x-ncp-apigw-signature-v1";

/// `METHOD path?query\ntimestamp\naccessKey` (the `?query` only when there
/// is one).
pub fn message(method: &str, path: &str, query: &str, timestamp: &str, access_key: &str) -> String {
    let mut out = String::with_capacity(method.len() + path.len() + query.len() + 64);
    out.push_str(method);
    out.push(' ');
    out.push_str(path);
    if !query.is_empty() {
        out.push('?');
        out.push_str(query);
    }
    out.push('\n');
    out.push_str(timestamp);
    out.push('\n');
    out.push_str(access_key);
    out
}

/// `Base64(HMAC-SHA256(secret, message))`.
pub fn sign(message: &str, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(message.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The `naver-vpc` client: `v2` signs the query as sent, in the `-v2`
/// header; `sdk` does what ncloud-vserver 1.0.1 does, signing the
/// unencoded query and sending it in the `-v1` header.
pub struct NaverClient;

const V2: &str = "v2";
const SDK: &str = "sdk";

impl ClientDialect for NaverClient {
    fn signing_variants(&self) -> &'static [&'static str] {
        &[V2, SDK]
    }

    fn encode(&self, call: &Call<'_>) -> WireRequest {
        let ctx = &call.context;
        let path = format!("{PREFIX}{}", call.operation);
        let encoded = super::tencent_v2::form_encode(call.params);
        let raw: Vec<String> = call
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let raw = raw.join("&");
        let (query, body) = match ctx.method {
            Method::Get => (encoded.clone(), None),
            Method::Post => (String::new(), Some(encoded.into_bytes())),
        };
        let signed_query = match (ctx.signing, ctx.method) {
            (SDK, Method::Get) => raw,
            _ => query.clone(),
        };
        let mut headers: Vec<(String, String)> = vec![
            (TIMESTAMP.into(), ctx.now.timestamp_millis().to_string()),
            (ACCESS_KEY.into(), call.credentials.access_key_id.clone()),
        ];
        let dropped = apply_header_overrides(&mut headers, call.headers);
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let signature = sign(
            &message(
                ctx.method.as_str(),
                &path,
                &signed_query,
                &header(TIMESTAMP),
                &header(ACCESS_KEY),
            ),
            call.credentials.access_key_secret.expose(),
        );
        let signature_header = if ctx.signing == SDK {
            SIGNATURE_V1
        } else {
            SIGNATURE_V2
        };
        if !call
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(signature_header))
        {
            headers.push((signature_header.into(), signature));
        }
        if body.is_some() {
            headers.push((
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        headers.retain(|(n, _)| !dropped.contains(n));
        WireRequest {
            method: ctx.method,
            path_and_query: if query.is_empty() {
                path
            } else {
                format!("{path}?{query}")
            },
            headers,
            body,
        }
    }

    fn decode(&self, status: u16, body: &[u8]) -> Decoded {
        let text = String::from_utf8_lossy(body);
        let trimmed = text.trim_start();
        let (value, xml) = if trimmed.starts_with('<') {
            match xml::xml_to_json(trimmed) {
                Ok((root, value)) => {
                    let mut wrapped = Map::new();
                    wrapped.insert(root, value);
                    (Value::Object(wrapped), true)
                }
                Err(e) => return Decoded::unreadable(status, &text, &e.to_string()),
            }
        } else {
            match serde_json::from_str::<Value>(trimmed) {
                Ok(v) => (v, false),
                Err(e) => return Decoded::unreadable(status, &text, &format!("not JSON: {e}")),
            }
        };
        let field = |v: &Value, k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let error = if let Some(e) = value.get("responseError") {
            Some(VendorError {
                code: field(e, "returnCode"),
                number: None,
                message: field(e, "returnMessage"),
            })
        } else if let Some(e) = value.get("error") {
            Some(VendorError {
                code: field(e, "errorCode"),
                number: None,
                message: field(e, "message"),
            })
        } else if !(200..300).contains(&status) {
            Some(VendorError {
                code: String::new(),
                number: None,
                message: "an error status without an error body".into(),
            })
        } else {
            None
        };
        Decoded {
            status,
            body: value,
            xml,
            error,
        }
    }

    fn redact(&self, wire: &WireRequest) -> SentRequest {
        SentRequest {
            method: wire.method.as_str(),
            target: wire.path_and_query.clone(),
            headers: wire
                .headers
                .iter()
                .map(|(n, v)| {
                    let v = if n == SIGNATURE_V1 || n == SIGNATURE_V2 {
                        "***".to_string()
                    } else {
                        v.clone()
                    };
                    (n.clone(), v)
                })
                .collect(),
            body: wire
                .body
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::CallContext;
    use crate::fixtures::{Credentials, Secret};

    #[test]
    fn a4_1() {
        let m = message(
            "GET",
            "/vserver/v2/getRegionList",
            "responseFormatType=json",
            "1700000000000",
            "ncpAccessKeyExample",
        );
        assert_eq!(
            sign(&m, "ncpSecretKeyExample"),
            "yCZKd4kYNaoPwYpu5dJzc54B32abgch8Ts/nfcoVYwk="
        );
    }

    /// The vector through the client, with the timestamp set as a header.
    #[test]
    fn a4_1_through_the_client_in_both_variants() {
        let creds = Credentials {
            access_key_id: "ncpAccessKeyExample".into(),
            access_key_secret: Secret::new("ncpSecretKeyExample"),
        };
        let params = vec![("responseFormatType".to_string(), "json".to_string())];
        let headers = vec![(TIMESTAMP.to_string(), Some("1700000000000".to_string()))];
        for (variant, header) in [(V2, SIGNATURE_V2), (SDK, SIGNATURE_V1)] {
            let wire = NaverClient.encode(&Call {
                operation: "getRegionList",
                params: &params,
                headers: &headers,
                credentials: &creds,
                context: CallContext {
                    host: "127.0.0.1:9",
                    now: chrono::Utc::now(),
                    nonce: "n",
                    signing: variant,
                    method: Method::Get,
                },
            });
            assert_eq!(
                wire.path_and_query,
                "/vserver/v2/getRegionList?responseFormatType=json"
            );
            let got = wire.headers.iter().find(|(n, _)| n == header).unwrap();
            assert_eq!(got.1, "yCZKd4kYNaoPwYpu5dJzc54B32abgch8Ts/nfcoVYwk=");
            let shown = NaverClient.redact(&wire);
            assert!(shown.headers.iter().any(|(n, v)| n == header && v == "***"));
        }
    }

    #[test]
    fn decodes_both_error_shapes_and_wraps_xml_in_its_root() {
        let d = NaverClient.decode(
            401,
            br#"{"error":{"errorCode":"200","message":"Authentication Failed","details":"x"}}"#,
        );
        assert_eq!(d.error.unwrap().code, "200");
        let d = NaverClient.decode(
            400,
            br#"{"responseError":{"returnCode":"1300","returnMessage":"bad"}}"#,
        );
        assert_eq!(d.error.unwrap().code, "1300");
        let d = NaverClient.decode(
            200,
            b"<?xml version=\"1.0\"?><getRegionListResponse><returnCode>0</returnCode></getRegionListResponse>",
        );
        assert!(d.error.is_none() && d.xml);
        assert_eq!(d.body["getRegionListResponse"]["returnCode"], "0");
    }
}
