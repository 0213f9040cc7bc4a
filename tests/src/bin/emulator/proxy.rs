//! An `https://` proxy: the client speaks TLS to it (the emulator's certificate),
//! asks to CONNECT with Basic credentials, and gets a tunnel to a loopback port.
//! CONNECT and its 200 answer: RFC 9110 section 9.3.6; refused credentials: 407
//! with `Proxy-Authenticate`, section 15.5.8
//! (<https://www.rfc-editor.org/rfc/rfc9110#section-15.5.8>).

use crate::server::Shared;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

pub(crate) async fn run(listener: TcpListener, acceptor: TlsAcceptor, sh: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, sh) = (acceptor.clone(), Arc::clone(&sh));
        tokio::spawn(async move {
            let _ = tunnel(stream, acceptor, sh).await;
        });
    }
}

fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

async fn tunnel(stream: TcpStream, acceptor: TlsAcceptor, sh: Arc<Shared>) -> std::io::Result<()> {
    let mut client = acceptor.accept(stream).await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    let end = loop {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = head_end(&buf) {
            break end;
        }
        if buf.len() > 16 * 1024 {
            return Ok(());
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = head.split("\r\n");
    let request: Vec<&str> = lines.next().unwrap_or("").split(' ').collect();
    let authorization = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let answer = |status: u16, text: &str, extra: &str| {
        format!("HTTP/1.1 {status} {text}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n")
    };
    let [method, target, _version] = request[..] else {
        client
            .write_all(answer(400, "Bad Request", "").as_bytes())
            .await?;
        return Ok(());
    };
    if method != "CONNECT" {
        client
            .write_all(answer(405, "Method Not Allowed", "").as_bytes())
            .await?;
        return Ok(());
    }
    let id = &sh.s.identity;
    let expected = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{}", id.proxy_user, id.proxy_password),
    );
    let given = authorization
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, c)| c.trim());
    if given != Some(expected.as_str()) {
        *sh.lock().proxy_refused.entry(407).or_default() += 1;
        let challenge = "Proxy-Authenticate: Basic realm=\"syslane-emulator\"\r\n";
        client
            .write_all(answer(407, "Proxy Authentication Required", challenge).as_bytes())
            .await?;
        return Ok(());
    }
    let loopback = target.starts_with("127.0.0.1:") || target.starts_with("localhost:");
    if !loopback {
        *sh.lock().proxy_refused.entry(403).or_default() += 1;
        client
            .write_all(answer(403, "Forbidden", "").as_bytes())
            .await?;
        return Ok(());
    }
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        *sh.lock().proxy_refused.entry(502).or_default() += 1;
        client
            .write_all(answer(502, "Bad Gateway", "").as_bytes())
            .await?;
        return Ok(());
    };
    *sh.lock()
        .proxy_tunnels
        .entry(target.to_string())
        .or_default() += 1;
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await?;
    if buf.len() > end {
        upstream.write_all(&buf[end..]).await?;
    }
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}
