use super::*;

/// An identity endpoint that answers the first request with a token good for
/// `lifetime` seconds and every later one with HTTP 500; it counts requests.
fn flaky_identity_endpoint(
    lifetime: u64,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/metadata/identity/oauth2/token",
        listener.local_addr().unwrap()
    );
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = std::sync::Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let answer = if n == 0 {
                let body = format!("{{\"access_token\":\"t1\",\"expires_in\":\"{lifetime}\"}}");
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
            };
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (url, count)
}

fn imds_credentials(endpoint: &str) -> Credentials {
    let config: AuthConfig = serde_json::from_value(serde_json::json!({
        "method": "managed_identity",
        "identity_endpoint": endpoint,
    }))
    .unwrap();
    let roots = client::roots(None).unwrap();
    let timeout = Duration::from_secs(5);
    Credentials::new(
        &config,
        Client::new(&roots, None, timeout).unwrap(),
        client::agent(&roots, None, timeout).unwrap(),
        |p| p.to_path_buf(),
    )
    .unwrap()
}

#[test]
fn a_failing_refresh_is_not_retried_on_every_request() {
    let (url, count) = flaky_identity_endpoint(4);
    let credentials = imds_credentials(&url);
    assert_eq!(credentials.token().unwrap().expose(), "t1");
    // Refresh is due at half-life (2 s); the endpoint now fails. Hundreds of
    // requests over the next 1.5 s keep the old token and cause two attempts:
    // the first at 2 s, the next a second later.
    std::thread::sleep(Duration::from_millis(2050));
    let until = Instant::now() + Duration::from_millis(1500);
    let mut calls = 0;
    while Instant::now() < until {
        assert_eq!(
            credentials.token().unwrap().expose(),
            "t1",
            "the old token serves"
        );
        calls += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    let attempts = count.load(std::sync::atomic::Ordering::SeqCst) - 1;
    assert!(calls > 100, "{calls}");
    assert!(
        (1..=2).contains(&attempts),
        "{attempts} refresh attempts for {calls} calls"
    );
    // Once the token is too close to expiry, callers are told when to come back.
    std::thread::sleep(Duration::from_millis(700));
    let e = loop {
        match credentials.token() {
            Ok(_) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => break e,
        }
    };
    assert!(
        e.retry_after.is_some() && e.message.contains("HTTP 500"),
        "{e:?}"
    );
}

#[test]
fn failed_refreshes_back_off_to_thirty_seconds() {
    let waits: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
    assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
}

#[test]
fn token_errors_keep_the_code_and_first_line() {
    let t = token_error(
        r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x"}"#,
    );
    assert_eq!(
        t,
        "invalid_client: AADSTS7000215: Invalid client secret provided."
    );
}
