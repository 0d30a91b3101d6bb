//! The browser side served on the API listener: the demo softphone at `/` and the SDK at
//! `/rtcgate.js` (both from `interworking-stub/web/`, compiled into the binary so the
//! page works with nothing else installed and nothing fetched from outside).

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("../interworking-stub/web/index.html");
const SDK: &str = include_str!("../interworking-stub/web/rtcgate.js");

/// `GET /`, `GET /rtcgate.js`, and an empty `GET /favicon.ico` (so a browser's automatic
/// request is not a 404 in its console).
pub(crate) fn routes() -> Router {
    Router::new()
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
        .route(
            "/",
            get(|| async {
                ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response()
            }),
        )
        .route(
            "/rtcgate.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    SDK,
                )
                    .into_response()
            }),
        )
}
