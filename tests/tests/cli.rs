//! The command line: `send-test-webhook` posts the documented example like the service does.

use clickhook_core::event::EXAMPLE_JSON;
use clickhook_testkit::process;
use clickhook_testkit::receiver::{Receiver, Reply};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_webhook_posts_the_example_with_auth_and_headers() {
    let rx = Receiver::start().await;
    let url = rx.url("/hook");
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        process::run(&["send-test-webhook", &url, "--user", "u", "--password", "p", "--header", "X-Extra: 1"], &[])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("status: 200"), "{out}");
    assert!(out.contains("latency:"), "{out}");
    let got = rx.requests();
    assert_eq!(got.len(), 1);
    let expected: serde_json::Value = serde_json::from_str(EXAMPLE_JSON).unwrap();
    assert_eq!(got[0].json(), expected);
    assert_eq!(got[0].header("authorization"), Some("Basic dTpw"));
    assert_eq!(got[0].header("x-extra"), Some("1"));
    assert_eq!(got[0].header("content-type"), Some("application/json"));

    // a failing receiver: the status is printed and the exit code says so
    rx.set_default(Reply::status(500));
    let url = rx.url("/hook");
    let (code, out, _) = tokio::task::spawn_blocking(move || process::run(&["send-test-webhook", &url], &[])).await.unwrap();
    assert_eq!(code, 1);
    assert!(out.contains("status: 500"), "{out}");
    // bad usage
    let (code, _, _) = tokio::task::spawn_blocking(|| process::run(&["send-test-webhook"], &[])).await.unwrap();
    assert_eq!(code, 2);
}
