//! A webhook receiver that answers 200 at once and records, for each Click event, how long
//! after the click it arrived: now minus the event's `ReceivedAt` (the link host's receipt
//! time, same machine, same clock).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

#[derive(Clone, Default)]
pub struct Receiver {
    pub latencies_ms: Arc<Mutex<Vec<f64>>>,
}

fn received_at_ms(body: &[u8]) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let t = time::OffsetDateTime::parse(v["ReceivedAt"].as_str()?, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp_nanos() as f64 / 1e6)
}

impl Receiver {
    pub async fn start(listener: TcpListener) -> Receiver {
        let r = Receiver::default();
        let rc = r.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let rc = rc.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let rc = rc.clone();
                        async move {
                            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e6;
                            if let Some(at) = received_at_ms(&body) {
                                rc.latencies_ms.lock().unwrap().push(now - at);
                            }
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), svc).await;
                });
            }
        });
        r
    }

    /// Events received so far.
    pub fn count(&self) -> usize {
        self.latencies_ms.lock().unwrap().len()
    }

    pub fn take(&self) -> Vec<f64> {
        std::mem::take(&mut *self.latencies_ms.lock().unwrap())
    }
}

/// The `q` quantile (0..=1) of unsorted samples.
pub fn quantile(samples: &mut [f64], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    let i = ((samples.len() - 1) as f64 * q).round() as usize;
    samples[i]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_at_is_read_from_the_event() {
        let t = received_at_ms(br#"{"ReceivedAt":"2025-12-02T10:00:00.5000000Z"}"#).unwrap();
        assert_eq!(t, 1_764_669_600_500.0);
        assert!(received_at_ms(b"{}").is_none());
        let mut v = vec![3.0, 1.0, 2.0, 4.0, 5.0];
        assert_eq!(quantile(&mut v, 0.5), 3.0);
        assert_eq!(quantile(&mut v, 1.0), 5.0);
    }
}
