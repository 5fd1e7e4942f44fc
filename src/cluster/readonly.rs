//! The read-only guarantee, enforced in the client's HTTP stack: a tower layer that lets `GET`
//! (and `HEAD`) through and answers every other method with an error before the request reaches
//! the connection. A read-only session cannot write even through a bug elsewhere. Owns only this
//! check; must not inspect or change the requests it lets through.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use hyper::{Method, Request};
use tower::{BoxError, Layer, Service};

/// Wraps a client's service stack so that only reads are sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOnlyLayer;

impl<S> Layer<S> for ReadOnlyLayer {
    type Service = ReadOnlyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ReadOnlyService { inner }
    }
}

/// The service [`ReadOnlyLayer`] builds.
#[derive(Debug, Clone)]
pub struct ReadOnlyService<S> {
    inner: S,
}

/// The error a refused request fails with (inside `kube::Error::Service`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("read-only session: refused to send {method} {path}")]
pub struct WriteRefused {
    pub method: String,
    pub path: String,
}

impl<S, B> Service<Request<B>> for ReadOnlyService<S>
where
    S: Service<Request<B>>,
    S::Error: Into<BoxError>,
    S::Response: Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<S::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if request.method() == Method::GET || request.method() == Method::HEAD {
            let response = self.inner.call(request);
            Box::pin(async move { response.await.map_err(Into::into) })
        } else {
            let refused = WriteRefused {
                method: request.method().to_string(),
                path: request.uri().path().to_owned(),
            };
            tracing::warn!(%refused, "read-only guard");
            Box::pin(futures::future::ready(Err(Box::new(refused) as BoxError)))
        }
    }
}

/// Whether a client error is the read-only guard refusing a request.
pub fn is_write_refused(error: &kube::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if current.is::<WriteRefused>() {
            return true;
        }
        source = current.source();
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use tower::ServiceExt as _;

    #[tokio::test]
    async fn only_reads_reach_the_inner_service() {
        let inner = tower::service_fn(|_request: Request<()>| async { Ok::<_, BoxError>("sent") });
        let guarded = ReadOnlyLayer.layer(inner);
        let get = Request::get("/api/v1/nodes").body(()).unwrap();
        assert_eq!(guarded.clone().oneshot(get).await.unwrap(), "sent");
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let request = Request::builder()
                .method(method.clone())
                .uri("/api/v1/nodes/n1")
                .body(())
                .unwrap();
            let error = guarded.clone().oneshot(request).await.unwrap_err();
            let refused = error.downcast_ref::<WriteRefused>().unwrap();
            assert_eq!(refused.method, method.as_str());
            assert_eq!(refused.path, "/api/v1/nodes/n1");
        }
    }
}
