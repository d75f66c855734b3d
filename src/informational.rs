//! The per-request hook for interim (1xx) responses.

use std::fmt;
use std::sync::Arc;

use crate::codec::response::ResponseHead;

/// A request extension: `f` sees each interim (1xx) response head that comes before the final
/// response: `103 Early Hints` with its `Link` fields, `100 Continue`, any other 1xx but
/// `101` (which is final: see [`upgrade`](crate::upgrade)). Go's
/// `httptrace.ClientTrace.Got1xxResponse`.
///
/// ```no_run
/// use roundtrip::{Body, OnInformational};
/// # roundtrip::net::block_on(async {
/// # let transport = roundtrip::Transport::new();
/// let mut request = http::Request::get("http://127.0.0.1:8080/").body(Body::empty())?;
/// request.extensions_mut().insert(OnInformational::new(|interim| {
///     for link in interim.headers().get_all(http::header::LINK) {
///         println!("{} hints {link:?}", interim.status());
///     }
/// }));
/// let response = transport.round_trip(request).await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # });
/// ```
///
/// `f` is called from inside the poll of the round-trip future, with no internal borrow held;
/// it should return quickly (it delays the exchange it is called from). At most
/// [`MAX_INTERIM_RESPONSES`](crate::codec::limits::MAX_INTERIM_RESPONSES) interim responses are
/// accepted before the final one (Go's limit); one more fails the request with
/// [`ProtocolError::TooManyInterimResponses`](crate::ProtocolError::TooManyInterimResponses).
/// `Send + Sync` because `http::Extensions` asks it of every extension.
#[derive(Clone)]
pub struct OnInformational {
    f: Arc<Hook>,
}

/// What an [`OnInformational`] calls.
type Hook = dyn Fn(&http::Response<()>) + Send + Sync;

impl OnInformational {
    /// A hook that calls `f` for each interim response head.
    pub fn new(f: impl Fn(&http::Response<()>) + Send + Sync + 'static) -> OnInformational {
        OnInformational { f: Arc::new(f) }
    }

    /// Shows `head` to the hook.
    // Used by the connection layer, which wasm32-unknown-unknown does not build.
    #[cfg_attr(all(target_arch = "wasm32", target_os = "unknown"), allow(dead_code))]
    pub(crate) fn call(&self, head: ResponseHead) {
        let mut response = http::Response::new(());
        *response.status_mut() = head.status;
        *response.version_mut() = head.version;
        *response.headers_mut() = head.headers;
        (self.f)(&response);
    }
}

impl fmt::Debug for OnInformational {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnInformational(..)")
    }
}
