//! The fuzz targets' bodies, run as ordinary tests: over the committed seed corpora
//! (`fuzz/corpus/<target>/`, including every crash the fuzzers found, kept as a regression
//! input) and over a few thousand generated inputs each. CI runs these on every change;
//! `cargo fuzz run <target>` runs the same functions under libFuzzer for as long as you like.

use std::path::{Path, PathBuf};

use clickhook_fuzz_targets as targets;
use proptest::prelude::*;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{}: the seed corpus has {} files", dir.display(), files.len());
    files
}

fn run_corpus(target: &str, check: fn(&[u8])) {
    for (path, bytes) in corpus(target) {
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(outcome.is_ok(), "{target} fails on {}", path.display());
    }
}

#[test]
fn token_parse_seeds() {
    run_corpus("token_parse", targets::token_parse);
    // The seeds are what they say: real tokens of the fuzz keyring (current and old key).
    for (path, bytes) in corpus("token_parse") {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("valid-") {
            let text = String::from_utf8(bytes).unwrap();
            assert!(targets::keyring().verify(text.trim_start_matches('/')).is_ok(), "{name} does not verify");
        }
    }
}

#[test]
fn rewrite_html_seeds() {
    run_corpus("rewrite_html", targets::rewrite_html);
}

#[test]
fn rewrite_text_seeds() {
    run_corpus("rewrite_text", targets::rewrite_text);
}

#[test]
fn api_json_seeds() {
    run_corpus("api_json", targets::api_json);
    // The tracking seeds are accepted, so the fuzzer starts from bodies that reach the rewriters.
    let now = time::OffsetDateTime::from_unix_timestamp(1_796_083_200).unwrap();
    for (path, bytes) in corpus("api_json") {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("track-") {
            let p = clickhook_api::tracking::parse_and_validate(&bytes, "default", targets::keyring(), targets::LINK_BASE, now)
                .unwrap_or_else(|e| panic!("{name}: {}", e.message));
            assert!(!p.response.links.is_empty(), "{name} tracks no link");
        }
        if name.starts_with("webhook-") {
            let w = clickhook_api::webhooks::parse_and_validate_create(&bytes, "default", true);
            assert!(w.is_ok(), "{name}: {:?}", w.err().map(|e| e.message));
        }
    }
}

/// Bytes that are a fuzz input for [`targets::token_parse`]'s payload reading: tamper
/// position, tamper character, flags, sent_at, message id, 0, link.
fn token_input() -> impl Strategy<Value = Vec<u8>> {
    let id = prop_oneof![
        "[ -~]{0,40}",
        any::<u128>().prop_map(|n| format!("{:x}", n)),
        Just("9a4c2b4e-2f0e-4a57-9a51-7c0e1f3d2b11".to_owned()),
        Just("9A4C2B4E-2F0E-4A57-9A51-7C0E1F3D2B11".to_owned()),
        "(?s).{0,20}",
    ];
    let link = prop_oneof!["[a-z0-9./?=&%#-]{0,60}", "(?i)https?://[ -~]{0,40}", "(?s).{0,30}"];
    (any::<[u8; 4]>(), any::<i64>(), id, link).prop_map(|(head, sent_at, id, link)| {
        let mut v = head.to_vec();
        v.extend_from_slice(&sent_at.to_be_bytes());
        v.extend_from_slice(id.as_bytes());
        v.push(0);
        v.extend_from_slice(link.as_bytes());
        v
    })
}

fn with_mode(mode: u8, body: String) -> Vec<u8> {
    let mut v = vec![mode];
    v.extend_from_slice(body.as_bytes());
    v
}

/// HTML-looking input: the pieces where the rewriter's rules live.
fn htmlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<a href=\"https://x.example/?a=1&amp;b=2\">".to_owned()),
        Just("<A HREF='http://y.example/'>".to_owned()),
        Just("<a href=https://z.example/>".to_owned()),
        Just("<area href=\"&#32;&#10;https://w.example/\">".to_owned()),
        Just("<a href=\"ht\ntps://n.example/\t\">".to_owned()),
        Just("<a href=\"https://e.example/?a=1&copy=2&notify=3\">".to_owned()),
        Just("<a data-pm-no-track href=\"https://n.example\">".to_owned()),
        Just("<a href=\"mailto:a@example.com\">".to_owned()),
        Just("<a href=\"https://q.example/\" href=\"https://r.example/\">".to_owned()),
        Just("<a href=\"https://s.example/\"/>".to_owned()),
        Just("</a>".to_owned()),
        Just("<!--".to_owned()),
        Just("-->".to_owned()),
        Just("<script>".to_owned()),
        Just("</script>".to_owned()),
        Just("<style>".to_owned()),
        Just("<textarea>".to_owned()),
        Just("<title>".to_owned()),
        Just("<select>".to_owned()),
        Just("<xmp>".to_owned()),
        Just("<svg>".to_owned()),
        Just("<math>".to_owned()),
        Just("<![CDATA[".to_owned()),
        Just("<!DOCTYPE html>".to_owned()),
        Just("<plaintext>".to_owned()),
        Just("<noscript>".to_owned()),
        Just("<iframe>".to_owned()),
        Just("<template>".to_owned()),
        Just(" x/='".to_owned()),
        Just("/=".to_owned()),
        "[<>/=\"'&#;a-zA-Z0-9 :!?\\-\t\n\u{E9}\u{1F600}]{0,12}",
        "&[a-zA-Z]{1,8};?",
        "&#x?[0-9a-fA-F]{1,7};?",
    ];
    prop::collection::vec(piece, 0..20).prop_map(|v| v.concat())
}

fn textish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("https://a.example/x?y=1&z=2#f".to_owned()),
        Just("HTTP://B.EXAMPLE".to_owned()),
        Just("http://".to_owned()),
        Just("https:".to_owned()),
        Just("www.example.com".to_owned()),
        Just("mailto:a@example.com".to_owned()),
        Just("xhttp://c.example".to_owned()),
        "[a-z0-9:/.()\\[\\]{}<>\"' ,;!?#&=_~%+*@-]{0,10}",
        "[\u{E9}\u{1F600}\u{3000}\u{FF0E}\u{200B}\n\t]{1,3}",
    ];
    prop::collection::vec(piece, 0..20).prop_map(|v| v.concat())
}

/// JSON bodies with the fields the API reads, and values of every type and size.
fn api_body() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
        "(?s).{0,30}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("https://hooks.example.com/x")),
        Just(serde_json::Value::from("http://127.0.0.1:9000/x")),
        Just(serde_json::Value::from("http://[::1]/x")),
        Just(serde_json::Value::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")),
        Just(serde_json::Value::from("2026-11-29T10:00:00Z")),
        Just(serde_json::Value::from("<a href=\"https://example.com/\">x</a> https://example.org")),
        Just(serde_json::Value::from("HtmlOnly")),
    ];
    let value = leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::vec(("(?s).{0,8}|Enabled|Name|Value|Username|Password|Click|Open", inner), 0..4)
                .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    });
    let key = prop_oneof![
        Just("Recipient"),
        Just("MessageID"),
        Just("Tag"),
        Just("Metadata"),
        Just("MessageStream"),
        Just("SentAt"),
        Just("TrackLinks"),
        Just("HtmlBody"),
        Just("TextBody"),
        Just("ID"),
        Just("Url"),
        Just("HttpAuth"),
        Just("HttpHeaders"),
        Just("Triggers"),
        Just("SigningSecrets"),
        Just("Other"),
    ];
    prop_oneof![
        8 => prop::collection::vec((key, value), 0..8).prop_map(|kv| {
            let obj: serde_json::Map<String, serde_json::Value> = kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            serde_json::to_vec(&obj).unwrap()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => "(?s)[\\[\\]{}\",:0-9a-z ]{0,40}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn token_parse_generated(data in prop_oneof![token_input(), prop::collection::vec(any::<u8>(), 0..200), "[A-Za-z0-9_/-]{0,200}".prop_map(String::into_bytes)]) {
        targets::token_parse(&data);
    }

    #[test]
    fn rewrite_html_generated(mode in any::<u8>(), body in prop_oneof![4 => htmlish(), 1 => any::<String>()]) {
        targets::rewrite_html(&with_mode(mode, body));
    }

    #[test]
    fn rewrite_text_generated(mode in any::<u8>(), body in prop_oneof![4 => textish(), 1 => any::<String>()]) {
        targets::rewrite_text(&with_mode(mode, body));
    }

    #[test]
    fn api_json_generated(body in api_body()) {
        targets::api_json(&body);
    }
}
