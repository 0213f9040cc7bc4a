//! `/metrics` over HTTP for Prometheus and agent dashboards (`metrics_address`):
//! the counters and gauges of the stats socket, in the Prometheus text format
//! (https://prometheus.io/docs/instrumenting/exposition_formats/), served by
//! hyper on the listeners' tokio runtime. Off unless configured; anywhere but
//! loopback it is logged as reachable by other hosts.

use crate::metrics::Metrics;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// The content type of the text format, version 0.0.4.
pub(crate) const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Scrapers served at once; more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 16;
/// A client must send its request headers within this.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

fn response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r
}

/// GET or HEAD /metrics; anything else is told what there is.
fn answer(request: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    if request.uri().path() != "/metrics" {
        return response(
            StatusCode::NOT_FOUND,
            "not found; the metrics are at /metrics\n".into(),
        );
    }
    match *request.method() {
        Method::GET | Method::HEAD => {
            let mut r = response(StatusCode::OK, metrics.prometheus());
            r.headers_mut().insert(
                CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(CONTENT_TYPE_TEXT),
            );
            r
        }
        _ => {
            let mut r = response(
                StatusCode::METHOD_NOT_ALLOWED,
                "only GET and HEAD are served\n".into(),
            );
            r.headers_mut()
                .insert(ALLOW, hyper::header::HeaderValue::from_static("GET, HEAD"));
            r
        }
    }
}

/// Binds `address` and serves until `shutdown`; returns the bound address.
pub(crate) async fn serve(
    address: SocketAddr,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), String> {
    let listener = TcpListener::bind(address).await.map_err(|e| {
        format!("metrics_address: cannot listen on {address}: {e}; choose a free port or remove metrics_address")
    })?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("metrics_address: {e}"))?;
    if !address.ip().is_loopback() {
        tracing::warn!(address = %bound, "serving /metrics beyond loopback: any host that can reach this port can read the agent's counters (they hold no secrets); restrict it with a firewall or use 127.0.0.1");
    }
    tracing::info!(url = %format!("http://{bound}/metrics"), "serving metrics");
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    Ok((
        bound,
        tokio::spawn(async move {
            loop {
                let permit = tokio::select! {
                    p = Arc::clone(&permits).acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                    _ = shutdown.changed() => break,
                };
                let (stream, _) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::debug!(error = %e, "metrics: accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                    _ = shutdown.changed() => break,
                };
                let metrics = Arc::clone(&metrics);
                let mut stop = shutdown.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let r = answer(&request, &metrics);
                        async move { Ok::<_, Infallible>(r) }
                    });
                    let connection = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(connection);
                    tokio::select! {
                        _ = connection.as_mut() => {}
                        _ = stop.changed() => {}
                    }
                    drop(permit);
                });
            }
        }),
    ))
}
