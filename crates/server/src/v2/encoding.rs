//! HTTP compression of inference requests and answers, as tritonclient uses it:
//! `Content-Encoding: gzip` or `deflate` (zlib) request bodies, and `Accept-Encoding: gzip` or
//! `deflate` answers. With flate2 directly rather than tower-http's layers, so that the one
//! limit that matters is explicit: a body inflates to at most the server's body limit, and
//! inflating stops as soon as it would pass it (a small body that inflates to gigabytes costs
//! at most the limit's worth of work and memory).

use super::{V2Error, V2Result, bad};
use axum::http::{HeaderMap, StatusCode, header};
use std::io::{Read, Write};

/// How a request body is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    /// HTTP's `deflate` is the zlib format (RFC 9110 §8.4.1.2), as tritonclient sends it.
    Deflate,
}

impl Coding {
    pub fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }
}

/// The request's `Content-Encoding`: none, `identity`, `gzip` (or `x-gzip`) or `deflate`.
pub fn request_coding(headers: &HeaderMap) -> V2Result<Option<Coding>> {
    let Some(v) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or_default().trim().to_ascii_lowercase();
    match text.as_str() {
        "" | "identity" => Ok(None),
        "gzip" | "x-gzip" => Ok(Some(Coding::Gzip)),
        "deflate" => Ok(Some(Coding::Deflate)),
        other => Err(V2Error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Encoding {:?} is not supported; send gzip, deflate or an uncompressed body",
                other.chars().take(40).collect::<String>()
            ),
        )),
    }
}

/// The body inflated, refused with 413 once it passes `limit` bytes.
pub fn inflate(coding: Coding, body: &[u8], limit: usize) -> V2Result<Vec<u8>> {
    let reader: Box<dyn Read + '_> = match coding {
        Coding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(body)),
        Coding::Deflate => Box::new(flate2::read::ZlibDecoder::new(body)),
    };
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    reader.take(cap).read_to_end(&mut out).map_err(|e| {
        bad(format!(
            "the request body is not valid {} (Content-Encoding): {e}",
            coding.name()
        ))
    })?;
    if out.len() > limit {
        return Err(V2Error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the {} request body inflates past the body limit of {limit} bytes",
                coding.name()
            ),
        ));
    }
    Ok(out)
}

/// The coding the caller accepts for the answer, gzip preferred; `None` for identity. A
/// coding with `q=0` is not accepted.
pub fn accepted(headers: &HeaderMap) -> Option<Coding> {
    let mut deflate = false;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        for item in value.to_str().unwrap_or_default().split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if refused {
                continue;
            }
            match name.as_str() {
                "gzip" | "x-gzip" => return Some(Coding::Gzip),
                "deflate" => deflate = true,
                _ => {}
            }
        }
    }
    deflate.then_some(Coding::Deflate)
}

/// The answer compressed with `coding`.
pub fn compress(coding: Coding, body: &[u8]) -> V2Result<Vec<u8>> {
    let failed = |e: std::io::Error| {
        V2Error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("compressing the answer: {e}"),
        )
    };
    let level = flate2::Compression::fast();
    match coding {
        Coding::Gzip => {
            let mut w = flate2::write::GzEncoder::new(Vec::new(), level);
            w.write_all(body).map_err(failed)?;
            w.finish().map_err(failed)
        }
        Coding::Deflate => {
            let mut w = flate2::write::ZlibEncoder::new(Vec::new(), level);
            w.write_all(body).map_err(failed)?;
            w.finish().map_err(failed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, value.parse().unwrap());
        h
    }

    /// As small as flate2 makes it (the server answers at its fastest level).
    fn squeeze(coding: Coding, body: &[u8]) -> Vec<u8> {
        let best = flate2::Compression::best();
        match coding {
            Coding::Gzip => {
                let mut w = flate2::write::GzEncoder::new(Vec::new(), best);
                w.write_all(body).unwrap();
                w.finish().unwrap()
            }
            Coding::Deflate => {
                let mut w = flate2::write::ZlibEncoder::new(Vec::new(), best);
                w.write_all(body).unwrap();
                w.finish().unwrap()
            }
        }
    }

    #[test]
    fn answers_round_trip() {
        let text = b"{\"outputs\": []}".repeat(100);
        for coding in [Coding::Gzip, Coding::Deflate] {
            assert_eq!(
                inflate(coding, &compress(coding, &text).unwrap(), 1 << 20).unwrap(),
                text
            );
        }
    }

    #[test]
    fn a_body_that_inflates_past_the_limit_is_refused_with_413() {
        let zeros = vec![0u8; 10 << 20];
        for coding in [Coding::Gzip, Coding::Deflate] {
            let small = squeeze(coding, &zeros);
            assert!(small.len() < 64 << 10, "{} bytes", small.len());
            let e = inflate(coding, &small, 1 << 20).unwrap_err();
            assert_eq!(e.0, StatusCode::PAYLOAD_TOO_LARGE, "{}", e.1);
            assert_eq!(inflate(coding, &small, 10 << 20).unwrap().len(), 10 << 20);
        }
    }

    #[test]
    fn garbage_is_refused_with_400() {
        let e = inflate(Coding::Gzip, b"not gzip at all", 1 << 20).unwrap_err();
        assert_eq!(e.0, StatusCode::BAD_REQUEST, "{}", e.1);
    }

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        assert_eq!(accepted(&headers(header::ACCEPT_ENCODING, "gzip")), Some(Coding::Gzip));
        assert_eq!(
            accepted(&headers(header::ACCEPT_ENCODING, "deflate, gzip;q=0")),
            Some(Coding::Deflate)
        );
        assert_eq!(accepted(&headers(header::ACCEPT_ENCODING, "br, identity")), None);
        assert_eq!(accepted(&HeaderMap::new()), None);
        assert!(request_coding(&headers(header::CONTENT_ENCODING, "br")).is_err());
    }
}
