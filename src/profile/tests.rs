use super::*;
use std::path::Path;

const GOOD: &str = "\
name: aliyun-test
client: {rate_limit: 5/s, concurrency: 2, request_timeout: 2s, retries: 2}
dialects:
  alibaba-ecs:
    endpoint: http://127.0.0.1:8080
    signing: v3
    fixtures:
      region: cn-hangzhou
      eni.available: eni-1
      eni.available.primary_ip: 10.0.0.1
      eni.unknown: eni-nobody
      eni.other_account: eni-2
  tencent-vpc-v2:
    endpoint: https://vpc.api.qcloud.com
    credentials:
      other: {id_env: TC_OTHER_ID, secret_env: TC_OTHER_KEY}
    fixtures: {region: ap-guangzhou, eni.available: eni-t1, eni.other_account: eni-t2}
";

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn a_profile_loads_with_defaults_and_its_client_policy() {
    let p = Profile::parse("p.yaml", GOOD).unwrap();
    assert_eq!(p.name, "aliyun-test");
    assert_eq!(p.client.concurrency, 2);
    assert_eq!(p.client.request_timeout, Duration::from_secs(2));
    assert_eq!(p.client.retry.max_attempts, 3);
    assert_eq!(
        p.client.rate_limit,
        Some("5/s".parse::<RateLimit>().unwrap())
    );
    let ecs = &p.dialects[&DialectId::AlibabaEcs];
    assert_eq!(ecs.endpoint, "http://127.0.0.1:8080");
    assert_eq!(
        ecs.credentials["default"],
        default_credentials(DialectId::AlibabaEcs)
    );
    assert_eq!(
        p.dialects[&DialectId::TencentVpcV2].credentials["default"].secret_env,
        "TENCENTCLOUD_SECRET_KEY"
    );
}

use std::time::Duration;

#[test]
fn only_loopback_endpoints_run_without_allow_network() {
    let p = Profile::parse("p.yaml", GOOD).unwrap();
    let refusal = p.network_refusal(false).unwrap();
    assert!(
        refusal.contains("tencent-vpc-v2 at https://vpc.api.qcloud.com"),
        "{refusal}"
    );
    assert!(!refusal.contains("127.0.0.1"), "{refusal}");
    assert!(refusal.contains("--allow-network"), "{refusal}");
    assert_eq!(p.network_refusal(true), None);
    for url in [
        "http://127.0.0.1:1",
        "http://127.1.2.3",
        "http://[::1]:80",
        "http://LOCALHOST:9",
    ] {
        assert!(is_loopback(url), "{url}");
    }
    for url in [
        "http://10.0.0.1",
        "https://localhost.example.com",
        "http://[::2]",
        "http://0.0.0.0",
    ] {
        assert!(!is_loopback(url), "{url}");
    }
}

#[test]
fn missing_variables_are_all_named_and_no_value_is_shown() {
    let p = Profile::parse("p.yaml", GOOD).unwrap();
    let env = env_of(&[
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIid"),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "sentinel-secret-value"),
        ("TENCENTCLOUD_SECRET_ID", "AKIDx"),
    ]);
    let e = p.resolve(&env).unwrap_err();
    assert!(
        e.contains("TENCENTCLOUD_SECRET_KEY (credential set `default` of tencent-vpc-v2)"),
        "{e}"
    );
    assert!(
        e.contains("TC_OTHER_ID") && e.contains("TC_OTHER_KEY"),
        "{e}"
    );
    assert!(!e.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"), "{e}");
    assert!(!e.contains("sentinel-secret-value"), "{e}");
}

#[test]
fn resolved_credentials_add_unknown_and_wrong_secret() {
    let p = Profile::parse("p.yaml", GOOD).unwrap();
    let env = env_of(&[
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIid"),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s1"),
        ("TENCENTCLOUD_SECRET_ID", "AKIDx"),
        ("TENCENTCLOUD_SECRET_KEY", "s2"),
        ("TC_OTHER_ID", "AKIDo"),
        ("TC_OTHER_KEY", "s3"),
    ]);
    let fixtures = p.resolve(&env).unwrap();
    let ecs = &fixtures[&DialectId::AlibabaEcs];
    assert_eq!(ecs.credentials["default"].access_key_secret.expose(), "s1");
    assert_eq!(ecs.credentials["wrong_secret"].access_key_id, "LTAIid");
    assert_ne!(
        ecs.credentials["wrong_secret"].access_key_secret.expose(),
        "s1"
    );
    assert!(ecs.credentials["unknown"].access_key_id.starts_with("LTAI"));
    assert_ne!(ecs.credentials["unknown"].access_key_id, "LTAIid");
    assert!(!ecs.credentials.contains_key("other"));
    assert_eq!(ecs.values["region"], "cn-hangzhou");
}

#[test]
fn interface_fixtures_are_eni_names_of_the_default_account() {
    let p = Profile::parse("p.yaml", GOOD).unwrap();
    let ecs = p.eni_fixtures(DialectId::AlibabaEcs);
    assert_eq!(ecs.len(), 1);
    assert_eq!(
        (
            ecs[0].fixture.as_str(),
            ecs[0].id.as_str(),
            ecs[0].credentials.as_str()
        ),
        ("eni.available", "eni-1", "default")
    );
    assert!(is_eni_fixture("eni.available_2"));
    assert!(!is_eni_fixture("eni.available.primary_ip"));
    assert!(!is_eni_fixture("eni.unknown"));
    assert!(!is_eni_fixture("eni.other_account"));
    assert!(!is_eni_fixture("eni."));
    assert!(!is_eni_fixture("vswitch"));
}

fn error_of(text: &str) -> Diagnostic {
    Profile::parse("p.yaml", text).unwrap_err()
}

#[test]
fn errors_name_file_line_col_with_a_hint() {
    let d = error_of(&GOOD.replace("    signing: v3", "    signin: v3"));
    assert_eq!((d.line, d.col), (6, 5), "{d}");
    assert_eq!(d.hint.as_deref(), Some("did you mean `signing`?"), "{d}");

    let d = error_of(&GOOD.replace("  alibaba-ecs:", "  alibaba-esc:"));
    assert!(d.message.contains("alibaba-esc"), "{d}");
    assert_eq!(d.line, 4, "{d}");
    assert_eq!(
        d.hint.as_deref(),
        Some("did you mean `alibaba-ecs`?"),
        "{d}"
    );

    let d = error_of(&GOOD.replace("signing: v3", "signing: v4"));
    assert_eq!((d.line, d.col), (6, 5), "{d}");
    assert!(d.hint.as_deref().unwrap().contains("v3"), "{d}");

    let d = error_of(&GOOD.replace("http://127.0.0.1:8080", "127.0.0.1:8080"));
    assert_eq!(d.line, 5, "{d}");

    let d = error_of(&GOOD.replace(
        "https://vpc.api.qcloud.com",
        "https://vpc.api.qcloud.com/v2/index.php",
    ));
    assert_eq!(d.line, 14, "the tencent endpoint, not the first: {d}");
    assert!(d.hint.unwrap().contains("host only"));

    let d = error_of(&GOOD.replace("rate_limit: 5/s", "rate_limit: fast"));
    assert_eq!(d.line, 2, "{d}");
    assert!(d.message.contains("`fast` is not a rate"), "{d}");

    let d = error_of(&GOOD.replace("id_env: TC_OTHER_ID", "id_env: \"$TC OTHER\""));
    assert!(
        d.message.contains("not an environment variable name"),
        "{d}"
    );

    let d = error_of(&GOOD.replace("      other:", "      unknown:"));
    assert!(d.message.contains("made up for every run"), "{d}");

    let d = error_of(&GOOD.replace("name: aliyun-test", "name: aliyun test"));
    assert_eq!((d.line, d.col), (1, 1), "{d}");
}

#[test]
fn no_panic_on_any_cut_of_a_profile() {
    for end in 0..=GOOD.len() {
        if GOOD.is_char_boundary(end) {
            let _ = Profile::parse("p.yaml", &GOOD[..end]);
        }
    }
    for junk in [
        "",
        "~",
        "[]",
        "name: 5",
        "dialects: {}",
        "name: x\ndialects: []",
    ] {
        assert!(Profile::parse("p.yaml", junk).is_err(), "{junk:?}");
    }
}

/// The profiles shipped in `profiles/`: the examples load once their
/// placeholders are filled (and not before), and the emulator's matches
/// the default world, fixtures and keys.
#[test]
fn the_shipped_profiles_load_and_the_emulators_matches_the_default_world() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let placeholder = regex::Regex::new(r"<[^>\n]*>").unwrap();
    let mut examples = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".example.yaml") {
            continue;
        }
        examples += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let d = Profile::parse("example.yaml", &text).unwrap_err();
        assert!(d.message.contains("placeholder"), "{d}");
        assert!(d.line > 0, "{d}");
        let filled = placeholder.replace_all(&text, "x-filled");
        let p = Profile::parse("example.yaml", &filled)
            .unwrap_or_else(|d| panic!("{}: {d}", path.display()));
        assert!(
            !p.remote_endpoints().is_empty(),
            "an example is of a real cloud"
        );
    }
    assert_eq!(examples, 3);

    let p = Profile::load(&dir.join("emulator.yaml")).unwrap();
    assert!(p.remote_endpoints().is_empty());
    let env_text = std::fs::read_to_string(dir.join("emulator.env")).unwrap();
    let env: BTreeMap<String, String> = env_text
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let resolved = p.resolve(&|k| env.get(k).cloned()).unwrap();
    let world = crate::emulator::world::WorldFile::builtin().unwrap();
    assert_eq!(resolved.len(), world.fixtures.len());
    for (dialect, fixtures) in &world.fixtures {
        let mine = &resolved[dialect];
        assert_eq!(mine.values, fixtures.values, "{dialect}");
        for (name, creds) in &fixtures.credentials {
            if DERIVED_CREDENTIALS.contains(&name.as_str()) {
                continue;
            }
            assert_eq!(mine.credentials.get(name), Some(creds), "{dialect} {name}");
        }
    }
}
