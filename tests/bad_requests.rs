//! A table of bad requests per dialect, sent as raw bytes over loopback:
//! oversized, wrongly encoded, a parameter given twice, signature headers
//! missing or doubled, a signature over other parameters, a header with a
//! newline, an unknown action, an empty body where one is needed. Each row
//! names the code and status its vendor's envelope must carry (the status
//! the spec documents for that code), and after every row a good request
//! of the same dialect still succeeds.
//!
//! HTTP/1.1 cannot carry a newline inside a header value. A bare LF ends
//! the header line, so the rest arrives as a header of its own and the
//! value is cut: those rows are refused by the vendor like any mangled
//! signed header. An obs-fold (CRLF then a space) is refused by the HTTP
//! layer itself before any handler runs: a bare 400 with no body and the
//! connection closed. No vendor envelope is possible there; that row says
//! so, and the next request, on a new connection, still succeeds.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;

use common::{judge, Raw};
use ipconform::dialect::{DialectId, Method};
use ipconform::emulator::world::WorldFile;
use ipconform::emulator::EmulatorState;

/// What a row must get: a vendor refusal with this code and status, or
/// the HTTP layer's bare 400.
#[derive(Debug, Clone, Copy)]
enum Want {
    Vendor(&'static str, u16),
    HttpLayer400,
}

struct Row {
    name: &'static str,
    bytes: Vec<u8>,
    path: String,
    want: Want,
}

fn to_bytes(raw: &Raw, host: &str) -> Vec<u8> {
    let mut out = format!("{} {} HTTP/1.1\r\n", raw.method, raw.target).into_bytes();
    let mut has_host = false;
    for (k, v) in &raw.headers {
        if k == "host" {
            has_host = true;
        }
        out.extend(k.as_bytes());
        out.extend(b": ");
        out.extend(v);
        out.extend(b"\r\n");
    }
    if !has_host {
        out.extend(format!("host: {host}\r\n").bytes());
    }
    out.extend(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            raw.body.len()
        )
        .bytes(),
    );
    out.extend(&raw.body);
    out
}

/// Sends `bytes` on a new connection; the status, content type and body.
fn exchange(addr: SocketAddr, bytes: &[u8]) -> common::Reply {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    // The server may answer and close before reading an oversized body.
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    common::Reply {
        status,
        content_type,
        body: body.to_string(),
    }
}

struct Bench {
    state: std::sync::Arc<EmulatorState>,
    world: WorldFile,
    host: String,
}

impl Bench {
    fn signed(
        &self,
        d: DialectId,
        op: &str,
        params: &[(&str, String)],
        signing: Option<&str>,
        method: Method,
    ) -> Raw {
        let creds = self.world.fixtures_of(d).credentials["default"].clone();
        let wire = common::signed_with(
            &self.state,
            &self.host,
            &creds,
            d,
            op,
            params,
            signing,
            method,
        );
        let mut raw = Raw::from_wire(&wire);
        raw.headers.retain(|(k, _)| k != "host");
        raw
    }

    fn v(&self, d: DialectId, k: &str) -> String {
        self.world.fixtures_of(d).values[k].clone()
    }

    fn row(&self, name: &'static str, raw: Raw, want: Want) -> Row {
        Row {
            name,
            path: raw.target.split('?').next().unwrap().to_string(),
            bytes: to_bytes(&raw, &self.host),
            want,
        }
    }

    /// A good read of `d`, which must succeed after every row.
    fn good(&self, d: DialectId) -> Raw {
        match d {
            DialectId::AlibabaEcs => self.signed(
                d,
                "DescribeNetworkInterfaces",
                &[("RegionId", self.v(d, "region"))],
                None,
                Method::Get,
            ),
            DialectId::AlibabaEns => self.signed(
                d,
                "DescribeNetworkInterfaces",
                &[("NetworkInterfaceId", self.v(d, "eni.available"))],
                None,
                Method::Get,
            ),
            DialectId::TencentVpcV2 => self.signed(
                d,
                "DescribeNetworkInterfaces",
                &[("Region", self.v(d, "region"))],
                None,
                Method::Get,
            ),
            DialectId::NaverVpc => self.signed(
                d,
                "getNetworkInterfaceDetail",
                &[
                    ("regionCode", self.v(d, "region")),
                    ("networkInterfaceNo", self.v(d, "eni.available")),
                ],
                None,
                Method::Get,
            ),
        }
    }
}

fn header_set(raw: &mut Raw, name: &str, value: &[u8]) {
    raw.headers.retain(|(k, _)| k != name);
    raw.headers.push((name.to_string(), value.to_vec()));
}

fn header_value(raw: &Raw, name: &str) -> Vec<u8> {
    raw.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// An obs-fold: the value continued on a line that starts with a space.
fn obs_fold(raw: &Raw, name: &str) -> Raw {
    let mut raw = raw.clone();
    let mut v = header_value(&raw, name);
    v.extend(b"\r\n folded");
    header_set(&mut raw, name, &v);
    raw
}

fn alibaba_rows(b: &Bench, d: DialectId) -> Vec<Row> {
    let version = if d == DialectId::AlibabaEcs {
        "2014-05-26"
    } else {
        "2017-11-10"
    };
    let eni = b.v(d, "eni.with_secondaries");
    let mut describe: Vec<(&str, String)> = vec![("NetworkInterfaceId", b.v(d, "eni.available"))];
    if d == DialectId::AlibabaEcs {
        describe = vec![("RegionId", b.v(d, "region"))];
    }
    let get = b.signed(d, "DescribeNetworkInterfaces", &describe, None, Method::Get);
    let v3 = b.signed(
        d,
        "DescribeNetworkInterfaces",
        &describe,
        Some("v3"),
        Method::Post,
    );
    let (missing, malformed, twice) = if d == DialectId::AlibabaEcs {
        (
            ("MissingParameter", 400),
            ("InvalidParameter", 400),
            ("InvalidParameter", 400),
        )
    } else {
        (
            ("MissingSignature", 400),
            ("InvalidQueryString", 400),
            ("InvalidNetworkInterfaceId", 400),
        )
    };
    let mut rows = Vec::new();

    let mut big = get.clone();
    big.target += &format!("&Pad={}", "a".repeat(40_000));
    rows.push(b.row(
        "oversized query",
        big,
        Want::Vendor(malformed.0, malformed.1),
    ));

    // Too large to read, the body names no product: ECS's envelope.
    let mut big = b.signed(
        d,
        "DescribeNetworkInterfaces",
        &describe,
        None,
        Method::Post,
    );
    big.body.extend(std::iter::repeat_n(b'a', 1_100_000));
    rows.push(b.row("oversized body", big, Want::Vendor("InvalidParameter", 400)));

    let mut sig_twice = get.clone();
    let sig = sig_twice.target[sig_twice.target.find("&Signature=").unwrap()..].to_string();
    sig_twice.target += &sig;
    let sig_code = if d == DialectId::AlibabaEcs {
        "InvalidParameter"
    } else {
        "InvalidSignature"
    };
    rows.push(b.row(
        "Signature given twice",
        sig_twice,
        Want::Vendor(sig_code, 400),
    ));

    // A value that is not UTF-8 once decoded, after signing.
    let mut bad = get.clone();
    bad.target = bad.target.replacen("Format=JSON", "Format=JS%FFON", 1);
    rows.push(b.row(
        "a value that is not UTF-8",
        bad,
        Want::Vendor("SignatureDoesNotMatch", 400),
    ));

    // The form's parameters sent as JSON: no parameter arrives.
    let mut json = b.signed(
        d,
        "DescribeNetworkInterfaces",
        &describe,
        None,
        Method::Post,
    );
    header_set(&mut json, "content-type", b"application/json");
    rows.push(b.row(
        "a form body labelled JSON",
        json,
        Want::Vendor("InvalidVersion", 400),
    ));

    // Signed with the parameter twice (both values signed).
    let mut p = describe.clone();
    let (name, value) = p[0].clone();
    p.push((name, value));
    let twice_raw = b.signed(d, "DescribeNetworkInterfaces", &p, None, Method::Get);
    rows.push(b.row(
        "a parameter given twice",
        twice_raw,
        Want::Vendor(twice.0, twice.1),
    ));

    let mut unsigned = get.clone();
    let cut = unsigned.target.find("&Signature=").unwrap();
    unsigned.target.truncate(cut);
    rows.push(b.row("no Signature", unsigned, Want::Vendor(missing.0, missing.1)));

    let mut no_date = v3.clone();
    no_date.headers.retain(|(k, _)| k != "x-acs-date");
    rows.push(b.row(
        "V3 without a signed header",
        no_date,
        Want::Vendor("IncompleteSignature", 400),
    ));

    let mut two_dates = v3.clone();
    let date = header_value(&two_dates, "x-acs-date");
    two_dates.headers.push(("x-acs-date".into(), date));
    rows.push(b.row(
        "V3 signed header given twice",
        two_dates,
        Want::Vendor("IncompleteSignature", 400),
    ));

    let mut two_auth = v3.clone();
    let auth = header_value(&two_auth, "authorization");
    two_auth.headers.push(("authorization".into(), auth));
    rows.push(b.row(
        "V3 Authorization given twice",
        two_auth,
        Want::Vendor("IncompleteSignature", 400),
    ));

    // Signed over one ENI, sent for another.
    let signed_for = b.signed(
        d,
        "UnassignPrivateIpAddresses",
        &[
            ("NetworkInterfaceId", eni.clone()),
            ("PrivateIpAddress.1", b.v(d, "vswitch.taken_ip")),
        ]
        .into_iter()
        .chain((d == DialectId::AlibabaEcs).then(|| ("RegionId", b.v(d, "region"))))
        .collect::<Vec<_>>(),
        None,
        Method::Get,
    );
    let mut other = signed_for.clone();
    other.target = other.target.replacen(&eni, &b.v(d, "eni.available"), 1);
    rows.push(b.row(
        "a signature over other parameters",
        other,
        Want::Vendor("SignatureDoesNotMatch", 400),
    ));

    // A bare LF inside the Authorization header: it arrives cut.
    let mut lf = v3.clone();
    let auth = String::from_utf8(header_value(&lf, "authorization")).unwrap();
    header_set(
        &mut lf,
        "authorization",
        auth.replacen(",SignedHeaders=", "\nsignedheaders: ", 1)
            .as_bytes(),
    );
    rows.push(b.row(
        "a header with a newline (bare LF)",
        lf,
        Want::Vendor("IncompleteSignature", 400),
    ));
    rows.push(b.row(
        "a header with a newline (obs-fold)",
        obs_fold(&v3, "x-acs-date"),
        Want::HttpLayer400,
    ));

    let unknown = b.signed(d, "RebootEverything", &[], None, Method::Get);
    rows.push(b.row(
        "an unknown action",
        unknown,
        Want::Vendor("InvalidAction", 400),
    ));

    let mut empty = b.signed(
        d,
        "DescribeNetworkInterfaces",
        &describe,
        None,
        Method::Post,
    );
    empty.body.clear();
    rows.push(b.row(
        "an empty body where the form is needed",
        empty,
        Want::Vendor("InvalidVersion", 400),
    ));
    let _ = version;
    rows
}

fn tencent_rows(b: &Bench) -> Vec<Row> {
    let d = DialectId::TencentVpcV2;
    let region = b.v(d, "region");
    let describe = [("Region", region.clone())];
    let get = b.signed(d, "DescribeNetworkInterfaces", &describe, None, Method::Get);
    let bad = Want::Vendor("InvalidParameter", 200);
    let mut rows = Vec::new();

    let mut big = get.clone();
    big.target += &format!("&pad={}", "a".repeat(40_000));
    rows.push(b.row("oversized query", big, bad));
    let mut big = b.signed(
        d,
        "DescribeNetworkInterfaces",
        &describe,
        None,
        Method::Post,
    );
    big.body.extend(std::iter::repeat_n(b'a', 1_100_000));
    rows.push(b.row("oversized body", big, bad));

    let mut enc = get.clone();
    enc.target = enc.target.replacen("Region=", "Region=%FF", 1);
    rows.push(b.row(
        "a value that is not UTF-8",
        enc,
        Want::Vendor("AuthFailure", 200),
    ));

    let mut json = b.signed(
        d,
        "DescribeNetworkInterfaces",
        &describe,
        None,
        Method::Post,
    );
    header_set(&mut json, "content-type", b"application/json");
    rows.push(b.row("a form body labelled JSON", json, bad));

    let twice = b.signed(
        d,
        "DescribeNetworkInterfaces",
        &[
            ("Region", region.clone()),
            ("offset", "0".into()),
            ("offset", "0".into()),
        ],
        None,
        Method::Get,
    );
    rows.push(b.row("a parameter given twice", twice, bad));

    let mut unsigned = get.clone();
    let cut = unsigned.target.find("&Signature=").unwrap();
    unsigned.target.truncate(cut);
    rows.push(b.row("no Signature", unsigned, bad));

    let mut doubled = get.clone();
    let sig = doubled.target[doubled.target.find("&Signature=").unwrap()..].to_string();
    doubled.target += &sig;
    rows.push(b.row("Signature given twice", doubled, bad));

    let mut other = get.clone();
    other.target = other
        .target
        .replacen(&format!("Region={region}"), "Region=ap-shanghai", 1);
    rows.push(b.row(
        "a signature over other parameters",
        other,
        Want::Vendor("AuthFailure", 200),
    ));

    // The Host it signs, cut by a bare LF on the wire.
    let creds = b.world.fixtures_of(d).credentials["default"].clone();
    let params: Vec<(String, String)> = [
        ("Action", "DescribeNetworkInterfaces".to_string()),
        ("Region", region.clone()),
        ("SecretId", creds.access_key_id.clone()),
        ("Nonce", "77".into()),
        ("Timestamp", b.state.now().timestamp().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let host = format!("{}\nx-split: 1", b.host);
    let signed = ipconform::dialect::tencent_v2::signed_params(
        "GET",
        &host,
        &params,
        creds.access_key_secret.expose(),
    );
    let lf = Raw {
        method: "GET".into(),
        target: format!(
            "/v2/index.php?{}",
            ipconform::dialect::tencent_v2::form_encode(&signed)
        ),
        headers: vec![("host".into(), host.into_bytes())],
        body: Vec::new(),
    };
    rows.push(b.row(
        "a header with a newline (bare LF)",
        lf,
        Want::Vendor("AuthFailure", 200),
    ));
    let mut folded = get.clone();
    folded.headers.push(("x-note".into(), b"a\r\n b".to_vec()));
    rows.push(b.row(
        "a header with a newline (obs-fold)",
        folded,
        Want::HttpLayer400,
    ));

    let unknown = b.signed(d, "RebootEverything", &describe, None, Method::Get);
    rows.push(b.row("an unknown action", unknown, bad));

    let mut empty = b.signed(
        d,
        "DescribeNetworkInterfaces",
        &describe,
        None,
        Method::Post,
    );
    empty.body.clear();
    rows.push(b.row("an empty body where the form is needed", empty, bad));
    rows
}

fn naver_rows(b: &Bench) -> Vec<Row> {
    let d = DialectId::NaverVpc;
    let detail = [
        ("regionCode", b.v(d, "region")),
        ("networkInterfaceNo", b.v(d, "eni.available")),
    ];
    let get = b.signed(d, "getNetworkInterfaceDetail", &detail, None, Method::Get);
    let bad = Want::Vendor("1100000", 400);
    let auth = Want::Vendor("200", 401);
    let mut rows = Vec::new();

    let mut big = get.clone();
    big.target += &format!("&pad={}", "a".repeat(40_000));
    rows.push(b.row("oversized query", big, bad));
    let mut big = b.signed(d, "getNetworkInterfaceDetail", &detail, None, Method::Post);
    big.body.extend(std::iter::repeat_n(b'a', 1_100_000));
    rows.push(b.row("oversized body", big, bad));

    // The body is not signed: a value that is not UTF-8 reaches validation.
    let mut enc = b.signed(d, "getNetworkInterfaceDetail", &detail, None, Method::Post);
    enc.body = b"regionCode=KR&networkInterfaceNo=%FF%FE".to_vec();
    rows.push(b.row("a value that is not UTF-8", enc, bad));

    let twice = b.signed(
        d,
        "getNetworkInterfaceDetail",
        &[
            detail[0].clone(),
            detail[1].clone(),
            ("networkInterfaceNo", b.v(d, "eni.available_2")),
        ],
        None,
        Method::Get,
    );
    rows.push(b.row("a parameter given twice", twice, bad));

    let mut unsigned = get.clone();
    unsigned
        .headers
        .retain(|(k, _)| !k.starts_with("x-ncp-apigw-signature"));
    rows.push(b.row("no signature header", unsigned, auth));

    let mut doubled = get.clone();
    let sig = header_value(&doubled, "x-ncp-apigw-signature-v2");
    doubled
        .headers
        .push(("x-ncp-apigw-signature-v2".into(), sig));
    rows.push(b.row(
        "signature header given twice",
        doubled,
        Want::Vendor("200", 401),
    ));

    let mut other = get.clone();
    other.target = other
        .target
        .replacen(&b.v(d, "eni.available"), &b.v(d, "eni.available_2"), 1);
    rows.push(b.row("a signature over other parameters", other, auth));

    let mut lf = get.clone();
    let sig = header_value(&lf, "x-ncp-apigw-signature-v2");
    let mut cut = sig[..8].to_vec();
    cut.extend(b"\nx-rest: ");
    cut.extend(&sig[8..]);
    header_set(&mut lf, "x-ncp-apigw-signature-v2", &cut);
    rows.push(b.row("a header with a newline (bare LF)", lf, auth));
    rows.push(b.row(
        "a header with a newline (obs-fold)",
        obs_fold(&get, "x-ncp-apigw-timestamp"),
        Want::HttpLayer400,
    ));

    let unknown = b.signed(d, "rebootEverything", &detail, None, Method::Get);
    rows.push(b.row("an unknown action", unknown, Want::Vendor("300", 404)));

    let mut empty = b.signed(d, "getNetworkInterfaceDetail", &detail, None, Method::Post);
    empty.body.clear();
    rows.push(b.row("an empty body where the form is needed", empty, bad));
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_request_gets_its_vendors_envelope_and_the_next_good_one_succeeds() {
    let world = common::default_world();
    let state = common::state_of(&world);
    let emu = ipconform::emulator::start_with_state(
        std::sync::Arc::clone(&state),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let addr = emu.addr();
    let bench = Bench {
        state,
        world,
        host: addr.to_string(),
    };
    let secrets = common::secrets(&bench.world);
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for d in DialectId::ALL.iter().copied() {
        let rows = match d {
            DialectId::AlibabaEcs | DialectId::AlibabaEns => alibaba_rows(&bench, d),
            DialectId::TencentVpcV2 => tencent_rows(&bench),
            DialectId::NaverVpc => naver_rows(&bench),
        };
        for row in rows {
            let bytes = row.bytes.clone();
            let reply = tokio::task::spawn_blocking(move || exchange(addr, &bytes))
                .await
                .unwrap();
            let got = match row.want {
                Want::HttpLayer400 => {
                    if reply.status == 400 && reply.body.is_empty() {
                        Ok(())
                    } else {
                        Err(format!("{} {:?}", reply.status, reply.body))
                    }
                }
                Want::Vendor(code, status) => match judge(&row.path, &reply, &secrets) {
                    Ok(c) if c == code && reply.status == status => Ok(()),
                    Ok(c) => Err(format!("{c} with {}: {}", reply.status, reply.body)),
                    Err(e) => Err(e),
                },
            };
            table.push(format!(
                "{d:15} {:42} {:?} -> {}",
                row.name, row.want, reply.status
            ));
            if let Err(e) = got {
                failures.push(format!("{d} `{}`: want {:?}, got {e}", row.name, row.want));
            }
            let good = to_bytes(&bench.good(d), &bench.host);
            let next = tokio::task::spawn_blocking(move || exchange(addr, &good))
                .await
                .unwrap();
            let path = if d == DialectId::NaverVpc {
                "/vserver/v2/getNetworkInterfaceDetail"
            } else if d == DialectId::TencentVpcV2 {
                "/v2/index.php"
            } else {
                "/"
            };
            match judge(path, &next, &secrets) {
                Ok(c) if c.is_empty() => {}
                other => failures.push(format!(
                    "{d}: after `{}` a good request got {other:?}",
                    row.name
                )),
            }
        }
    }
    println!("{}", table.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(table.len(), 15 * 2 + 12 + 11, "every row ran");
    emu.shutdown().await;
}
