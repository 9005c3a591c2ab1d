//! Alibaba Cloud RPC signature v1 and parameter canonicalisation (ECS, ENS).
//!
//! The runner's client signs with [`signed_query`] and the emulator verifies
//! with [`sign_v1`]; both go through [`canonicalized_query`], so the published
//! vectors of SIGNING.md (A1) pin the two sides at once. The emulator runs
//! this on every request, so it stays lean: one encoded copy of each
//! parameter, one sort of a small `Vec`, one output buffer.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// RFC 3986 percent-encoding of UTF-8 text: `A-Z a-z 0-9 - _ . ~` stay,
/// every other byte becomes `%XY` with upper-case hex (space `%20`, `*` `%2A`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    encode_into(&mut out, s);
    out
}

fn encode_into(out: &mut String, s: &str) {
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0x0f) as usize] as char);
        }
    }
}

/// Parameters of a URL query string, percent-decoded. `+` stays a `+`
/// (RFC 3986 query; the Alibaba SDKs encode a space as `%20` there).
/// Parameters with an empty value are kept: they are signed.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    parse_pairs(raw.as_bytes(), false)
}

/// Parameters of an `application/x-www-form-urlencoded` body: `+` is a space.
/// Invalid UTF-8 is replaced (U+FFFD) rather than rejected, so a hostile body
/// yields a signature mismatch or a vendor error, never a panic.
pub fn parse_form(raw: &[u8]) -> Vec<(String, String)> {
    parse_pairs(raw, true)
}

fn parse_pairs(raw: &[u8], plus_is_space: bool) -> Vec<(String, String)> {
    raw.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[..0]),
            };
            (decode(name, plus_is_space), decode(value, plus_is_space))
        })
        .collect()
}

fn decode(raw: &[u8], plus_is_space: bool) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        match b {
            b'%' if i + 2 < raw.len() => {
                match (hex(raw[i + 1]), hex(raw[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h << 4 | l);
                        i += 3;
                        continue;
                    }
                    // A lone `%` is kept literally, as browsers and servers do.
                    _ => out.push(b),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            _ => out.push(b),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// The canonicalized query of signature v1: every parameter but `Signature`,
/// names and values percent-encoded, sorted by encoded name, `k=v` joined by `&`.
pub fn canonicalized_query(params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .filter(|(name, _)| name != "Signature")
        .map(|(name, value)| (percent_encode(name), percent_encode(value)))
        .collect();
    // Ties on the name (a repeated parameter) are broken by value so the
    // result does not depend on the order the client happened to send.
    encoded.sort_unstable();
    let len: usize = encoded.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut out = String::with_capacity(len);
    for (i, (name, value)) in encoded.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// `METHOD&%2F&percentEncode(canonicalized query)`.
pub fn string_to_sign(method: &str, params: &[(String, String)]) -> String {
    let canonical = canonicalized_query(params);
    let mut out = String::with_capacity(method.len() + 5 + canonical.len() * 5 / 4);
    out.push_str(method);
    out.push_str("&%2F&");
    encode_into(&mut out, &canonical);
    out
}

/// `Base64(HMAC-SHA1(secret + "&", string_to_sign))`.
pub fn sign_v1(method: &str, params: &[(String, String)], access_key_secret: &str) -> String {
    sign_string(&string_to_sign(method, params), access_key_secret)
}

/// Signs an already built string to sign (the emulator reuses the string it
/// shows in a SignatureDoesNotMatch message).
pub fn sign_string(string_to_sign: &str, access_key_secret: &str) -> String {
    let mut key = String::with_capacity(access_key_secret.len() + 1);
    key.push_str(access_key_secret);
    key.push('&');
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = HmacSha1::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The full encoded query string of a signed request: the canonicalized
/// query with `&Signature=<encoded signature>` appended. Suitable as a URL
/// query or as a form body.
pub fn signed_query(method: &str, params: &[(String, String)], access_key_secret: &str) -> String {
    let mut query = canonicalized_query(params);
    let mut sts = String::with_capacity(method.len() + 5 + query.len() * 5 / 4);
    sts.push_str(method);
    sts.push_str("&%2F&");
    encode_into(&mut sts, &query);
    let signature = sign_string(&sts, access_key_secret);
    if !query.is_empty() {
        query.push('&');
    }
    query.push_str("Signature=");
    encode_into(&mut query, &signature);
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a1_1(timestamp_name: &str) -> Vec<(String, String)> {
        [
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            (timestamp_name, "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn a1_1_string_to_sign_and_signature() {
        let params = a1_1("Timestamp");
        assert_eq!(
            string_to_sign("GET", &params),
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
        );
        assert_eq!(
            sign_v1("GET", &params, "testsecret"),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
    }

    #[test]
    fn a1_2_timestamp_spelling_changes_sort_and_signature() {
        let params = a1_1("TimeStamp");
        assert_eq!(
            sign_v1("GET", &params, "testsecret"),
            "CT9X0VtwR86fNWSnsc6v8YGOjuE="
        );
    }

    #[test]
    fn a1_3_utf8_and_json_values() {
        let params: Vec<(String, String)> = [
            ("AccessKeyId", "testId"),
            ("Action", "SendSms"),
            ("Format", "XML"),
            ("OutId", "123"),
            ("PhoneNumbers", "15300000001"),
            ("RegionId", "cn-hangzhou"),
            ("SignName", "阿里云短信测试专用"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"),
            ("SignatureVersion", "1.0"),
            ("TemplateCode", "SMS_71390007"),
            ("TemplateParam", "{\"customer\":\"test\"}"),
            ("Timestamp", "2017-07-12T02:42:19Z"),
            ("Version", "2017-05-25"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            sign_v1("GET", &params, "testSecret"),
            "zJDF+Lrzhj/ThnlvIToysFRq6t4="
        );
    }

    #[test]
    fn signed_query_round_trips_through_the_verifier() {
        let params = a1_1("Timestamp");
        let query = signed_query("GET", &params, "testsecret");
        let received = parse_query(&query);
        let sig = received.iter().find(|(k, _)| k == "Signature").unwrap();
        assert_eq!(sig.1, "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
        assert_eq!(sign_v1("GET", &received, "testsecret"), sig.1);
    }

    #[test]
    fn encoding_follows_rfc3986() {
        assert_eq!(percent_encode("a b*c~d+e/f"), "a%20b%2Ac~d%2Be%2Ff");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn form_plus_is_space_but_query_plus_is_plus() {
        let form = parse_form(b"Name=a+b&Empty=&Flag&Enc=%2A%zz");
        assert_eq!(
            form,
            vec![
                ("Name".into(), "a b".into()),
                ("Empty".into(), String::new()),
                ("Flag".into(), String::new()),
                ("Enc".into(), "*%zz".into()),
            ]
        );
        assert_eq!(parse_query("Name=a+b")[0].1, "a+b");
        // The form's `+` is signed as `%20`, as the SDKs do.
        assert_eq!(canonicalized_query(&form[..1]), "Name=a%20b");
    }

    #[test]
    fn empty_parameters_are_signed() {
        let mut params = a1_1("Timestamp");
        let without = sign_v1("GET", &params, "testsecret");
        params.push(("SignatureType".into(), String::new()));
        assert!(canonicalized_query(&params).contains("SignatureType=&"));
        assert_ne!(sign_v1("GET", &params, "testsecret"), without);
    }

    #[test]
    fn bad_utf8_and_truncated_escapes_do_not_panic() {
        let p = parse_form(b"a=%FF%FE&b=%&c=%4");
        assert_eq!(p[0].1, "\u{FFFD}\u{FFFD}");
        assert_eq!(p[1].1, "%");
        assert_eq!(p[2].1, "%4");
    }
}
