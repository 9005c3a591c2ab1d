//! Tencent Cloud legacy API v2 (`/v2/index.php`): parameter encoding, the
//! HmacSHA1 / HmacSHA256 signature, and the client.
//!
//! The signature (SIGNING.md A3) is over
//! `METHOD + host + path + "?" + name=value&...` with the parameters sorted
//! by name and their raw, not URL-encoded, values, a `_` in a name read as
//! `.`. The host is the Host header as received, which is what a client
//! pointed at `127.0.0.1:PORT` signs. The client signs with [`signed_params`]
//! and the emulator verifies with [`sign`] over the same [`source`]; the
//! published vectors pin both. Errors come back in HTTP 200 with a non-zero
//! numeric `code`, a `message` and a string `codeDesc`.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha1::Sha1;
use sha2::Sha256;

use super::{
    redact_params, Call, ClientDialect, Decoded, Method, SentRequest, VendorError, WireRequest,
};

/// The one path of the legacy API.
pub const PATH: &str = "/v2/index.php";

/// The signature methods, as `SignatureMethod` names them.
pub const HMAC_SHA1: &str = "HmacSHA1";
pub const HMAC_SHA256: &str = "HmacSHA256";

/// The string to sign: the method upper-cased, the host, the path, `?` and
/// every parameter but `Signature`, sorted by name, `name=value` joined by
/// `&` with raw values; a `_` in a name reads `.` (as the official SDK
/// writes it, after sorting).
pub fn source<K: AsRef<str>, V: AsRef<str>>(
    method: &str,
    host: &str,
    path: &str,
    params: &[(K, V)],
) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, _)| *k != "Signature")
        .collect();
    // Equal pairs are the same text, so an unstable sort orders as a stable one.
    sorted.sort_unstable();
    let mut out = String::with_capacity(
        64 + sorted
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum::<usize>(),
    );
    out.push_str(&method.to_ascii_uppercase());
    out.push_str(host);
    out.push_str(path);
    out.push('?');
    for (i, (name, value)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        if name.contains('_') {
            out.push_str(&name.replace('_', "."));
        } else {
            out.push_str(name);
        }
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Base64 of the HMAC of `source` with `secret_key`, by `method` (HmacSHA256,
/// or HmacSHA1 for anything else, as the API defaults).
pub fn sign(source: &str, secret_key: &str, method: &str) -> String {
    let digest = if method == HMAC_SHA256 {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret_key.as_bytes()).expect("HMAC takes any key");
        mac.update(source.as_bytes());
        mac.finalize().into_bytes().to_vec()
    } else {
        let mut mac =
            Hmac::<Sha1>::new_from_slice(secret_key.as_bytes()).expect("HMAC takes any key");
        mac.update(source.as_bytes());
        mac.finalize().into_bytes().to_vec()
    };
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// `params` with `Signature` added, signed for `method` on `host`.
pub fn signed_params(
    method: &str,
    host: &str,
    params: &[(String, String)],
    secret_key: &str,
) -> Vec<(String, String)> {
    let algorithm = params
        .iter()
        .find(|(k, _)| k == "SignatureMethod")
        .map_or(HMAC_SHA1, |(_, v)| v.as_str());
    let signature = sign(&source(method, host, PATH, params), secret_key, algorithm);
    let mut out = params.to_vec();
    out.push(("Signature".into(), signature));
    out
}

/// `application/x-www-form-urlencoded` text of `params`, in order.
pub fn form_encode(params: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .finish()
}

/// A positive `Nonce` of up to 19 digits, derived from the call's nonce.
fn numeric_nonce(seed: &str) -> String {
    let mut n: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        n = (n ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (n % 9_000_000_000_000_000_000 + 1).to_string()
}

/// The `tencent-vpc-v2` client. Its signing variants are the two
/// `SignatureMethod`s; a case may also set `SignatureMethod` itself.
pub struct TencentV2Client;

impl ClientDialect for TencentV2Client {
    fn signing_variants(&self) -> &'static [&'static str] {
        &[HMAC_SHA1, HMAC_SHA256]
    }

    fn encode(&self, call: &Call<'_>) -> WireRequest {
        let ctx = &call.context;
        let given = |name: &str| call.params.iter().any(|(k, _)| k == name);
        let mut params: Vec<(String, String)> = Vec::with_capacity(call.params.len() + 6);
        let defaults: [(&str, &dyn Fn() -> Option<String>); 5] = [
            ("Action", &|| Some(call.operation.to_string())),
            ("SecretId", &|| Some(call.credentials.access_key_id.clone())),
            ("Nonce", &|| Some(numeric_nonce(ctx.nonce))),
            ("Timestamp", &|| Some(ctx.now.timestamp().to_string())),
            // HmacSHA1 is the API's default: the SDK leaves it out then.
            ("SignatureMethod", &|| {
                (ctx.signing == HMAC_SHA256).then(|| HMAC_SHA256.to_string())
            }),
        ];
        for (name, make) in defaults {
            if !given(name) {
                if let Some(value) = make() {
                    params.push((name.to_string(), value));
                }
            }
        }
        params.extend(call.params.iter().cloned());
        let signed = signed_params(
            ctx.method.as_str(),
            ctx.host,
            &params,
            call.credentials.access_key_secret.expose(),
        );
        let encoded = form_encode(&signed);
        match ctx.method {
            Method::Get => WireRequest {
                method: Method::Get,
                path_and_query: format!("{PATH}?{encoded}"),
                headers: Vec::new(),
                body: None,
            },
            Method::Post => WireRequest {
                method: Method::Post,
                path_and_query: PATH.to_string(),
                headers: vec![(
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                )],
                body: Some(encoded.into_bytes()),
            },
        }
    }

    fn decode(&self, status: u16, body: &[u8]) -> Decoded {
        let text = String::from_utf8_lossy(body);
        match serde_json::from_str::<Value>(text.trim_start()) {
            Ok(value) => {
                let number = value.get("code").and_then(Value::as_i64);
                let error = match number {
                    Some(0) => None,
                    Some(n) => Some(VendorError {
                        code: value
                            .get("codeDesc")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        number: Some(n),
                        message: value
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    }),
                    None => Some(VendorError {
                        code: String::new(),
                        number: None,
                        message: "the reply has no numeric `code`".into(),
                    }),
                };
                Decoded {
                    status,
                    body: value,
                    xml: false,
                    error,
                }
            }
            Err(e) => Decoded::unreadable(status, &text, &format!("not JSON: {e}")),
        }
    }

    fn redact(&self, wire: &WireRequest) -> SentRequest {
        redact_params(wire, &["Signature"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::CallContext;
    use crate::fixtures::{Credentials, Secret};

    fn a3(method: &str) -> Vec<(String, String)> {
        [
            ("Action", "DescribeInstances"),
            ("InstanceIds.0", "ins-09dx96dg"),
            ("Nonce", "11886"),
            ("Region", "ap-guangzhou"),
            ("SecretId", "AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA"),
            ("SignatureMethod", method),
            ("Timestamp", "1465185768"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    const KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3Cozk1qA";

    #[test]
    fn a3_1_hmac_sha256_and_a3_2_hmac_sha1() {
        let src = source("GET", "cvm.api.qcloud.com", PATH, &a3(HMAC_SHA256));
        assert!(src.starts_with(
            "GETcvm.api.qcloud.com/v2/index.php?Action=DescribeInstances&InstanceIds.0="
        ));
        assert_eq!(
            sign(&src, KEY, HMAC_SHA256),
            "0EEm/HtGRr/VJXTAD9tYMth1Bzm3lLHz5RCDv1GdM8s="
        );
        let src = source("GET", "cvm.api.qcloud.com", PATH, &a3(HMAC_SHA1));
        assert_eq!(sign(&src, KEY, HMAC_SHA1), "nPVnY6njQmwQ8ciqbPl5Qe+Oru4=");
    }

    /// The client, given the vector's inputs, sends the vector's signature.
    #[test]
    fn a3_through_the_client() {
        let creds = Credentials {
            access_key_id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA".into(),
            access_key_secret: Secret::new(KEY),
        };
        let params: Vec<(String, String)> = a3(HMAC_SHA256)
            .into_iter()
            .filter(|(k, _)| k != "Action" && k != "SecretId")
            .collect();
        for (method, expected) in [
            (HMAC_SHA256, "0EEm/HtGRr/VJXTAD9tYMth1Bzm3lLHz5RCDv1GdM8s="),
            (HMAC_SHA1, "nPVnY6njQmwQ8ciqbPl5Qe+Oru4="),
        ] {
            let params: Vec<(String, String)> = params
                .iter()
                .map(|(k, v)| {
                    let v = if k == "SignatureMethod" { method } else { v };
                    (k.clone(), v.to_string())
                })
                .collect();
            let wire = TencentV2Client.encode(&Call {
                operation: "DescribeInstances",
                params: &params,
                headers: &[],
                credentials: &creds,
                context: CallContext {
                    host: "cvm.api.qcloud.com",
                    now: chrono::Utc::now(),
                    nonce: "ignored: the case set Nonce",
                    signing: HMAC_SHA1,
                    method: Method::Get,
                },
            });
            let query = wire.path_and_query.strip_prefix("/v2/index.php?").unwrap();
            let sent: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            let signature = &sent.iter().find(|(k, _)| k == "Signature").unwrap().1;
            assert_eq!(signature, expected);
            assert!(TencentV2Client
                .redact(&wire)
                .target
                .contains("Signature=***"));
        }
    }

    #[test]
    fn underscores_in_names_sign_as_dots_after_sorting() {
        let params = vec![
            ("a_b".to_string(), "1".to_string()),
            ("a.c".to_string(), "2".to_string()),
        ];
        // `a.c` sorts before `a_b` ('.' < '_'), then `a_b` reads `a.b`.
        assert_eq!(
            source("POST", "h", PATH, &params),
            "POSTh/v2/index.php?a.c=2&a.b=1"
        );
    }

    #[test]
    fn errors_travel_in_http_200() {
        let d = TencentV2Client.decode(
            200,
            br#"{"code":4100,"message":"bad","codeDesc":"AuthFailure"}"#,
        );
        let e = d.error.unwrap();
        assert_eq!((e.code.as_str(), e.number), ("AuthFailure", Some(4100)));
        let ok = TencentV2Client.decode(
            200,
            br#"{"code":0,"message":"","codeDesc":"Success","data":{"taskId":1}}"#,
        );
        assert!(ok.error.is_none());
        assert!(TencentV2Client.decode(502, b"<html>").error.is_some());
    }
}
