//! The gRPC port (`serve --grpc-bind`) against hostile callers, spoken to frame by frame with the
//! `h2` crate: what must happen before a message is read, what a caller may not put into the
//! metrics, and a client that will not take its answers. tritonclient's view of the same port is
//! in tests/kserve.rs.

mod service;

use bytes::Bytes;
use prost::Message;
use server::inference_grpc as pb;
use service::Data;
use std::time::{Duration, Instant};

/// One unary call's outcome: the grpc-status (from the headers of a trailers-only answer or from
/// the trailers) and grpc-message.
#[derive(Debug)]
struct Outcome {
    status: Option<u32>,
    message: String,
}

/// The gRPC frame of `message`: not compressed, its length big-endian.
fn frame(message: &[u8]) -> Bytes {
    let mut out = vec![0u8];
    out.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    out.extend_from_slice(message);
    out.into()
}

async fn connect(addr: &str, window: Option<u32>) -> h2::client::SendRequest<Bytes> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut builder = h2::client::Builder::new();
    if let Some(w) = window {
        builder.initial_window_size(w);
    }
    let (client, conn) = builder.handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

async fn call(addr: &str, method: &str, token: Option<&str>, body: Bytes) -> Outcome {
    let client = connect(addr, None).await;
    let mut client = client.ready().await.unwrap();
    let mut req = http::Request::post(format!("http://{addr}/inference.GRPCInferenceService/{method}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let (answer, mut send) = client.send_request(req.body(()).unwrap(), false).unwrap();
    send.send_data(body, true).unwrap();
    let answer = answer.await.unwrap();
    let grpc = |h: &http::HeaderMap| {
        (
            h.get("grpc-status")
                .map(|v| v.to_str().unwrap().parse::<u32>().unwrap()),
            h.get("grpc-message")
                .map(|v| percent_decoded(v.to_str().unwrap()))
                .unwrap_or_default(),
        )
    };
    let (mut status, mut message) = grpc(answer.headers());
    if status.is_none() {
        let mut body = answer.into_body();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.unwrap();
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        if let Some(trailers) = body.trailers().await.unwrap() {
            (status, message) = grpc(&trailers);
        }
    }
    Outcome { status, message }
}

/// grpc-message is percent-encoded (RFC 3986) by the server.
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

const UNAUTHENTICATED: u32 = 16;
const INVALID_ARGUMENT: u32 = 3;
const RESOURCE_EXHAUSTED: u32 = 8;

/// A call to a model is refused for its missing credentials before its message is read: a
/// malformed message without a token is UNAUTHENTICATED, not a decoding error (reading it first
/// would let anyone make the server inflate and decode a megabyte per call).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_credentials_is_refused_before_its_message_is_read() {
    let data = Data::sqlite();
    let server = data.start(&["--grpc-bind", "127.0.0.1:0"]);
    let addr = server.grpc.clone().unwrap();
    // Field 1 (model_name) says 2^35 bytes follow: not a message.
    let garbage = frame(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    let o = call(&addr, "ModelInfer", None, garbage.clone()).await;
    assert_eq!(o.status, Some(UNAUTHENTICATED), "{o:?}");
    assert!(o.message.contains("authorization: Bearer TOKEN"), "{o:?}");
    let o = call(&addr, "ModelInfer", Some("nobody"), garbage).await;
    assert_eq!(
        (o.status, o.message.as_str()),
        (Some(UNAUTHENTICATED), "the bearer token is not valid")
    );
    // The health probe needs nobody.
    let live = call(&addr, "ServerLive", None, frame(&[])).await;
    assert_eq!(live.status, Some(0), "{live:?}");
}

/// Model names that anonymous callers choose, refused for credentials or rate, never become
/// label values of /metrics (each would be a new series for ever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_a_caller_chooses_never_become_metric_labels() {
    let data = Data::sqlite();
    let server = data.start(&[
        "--grpc-bind",
        "127.0.0.1:0",
        "--anonymous-rate",
        "0.01",
        "--anonymous-burst",
        "1",
        "--metrics-token",
        "scraper",
    ]);
    let addr = server.grpc.clone().unwrap();
    let mut statuses = Vec::new();
    for i in 0..4 {
        let request = pb::ModelInferRequest {
            model_name: format!("chosen_{i}\"}} 1"),
            ..Default::default()
        };
        statuses.push(
            call(&addr, "ModelInfer", None, frame(&request.encode_to_vec()))
                .await
                .status,
        );
    }
    assert_eq!(
        statuses,
        [
            Some(UNAUTHENTICATED),
            Some(RESOURCE_EXHAUSTED),
            Some(RESOURCE_EXHAUSTED),
            Some(RESOURCE_EXHAUSTED)
        ],
        "the first takes the address's one anonymous request, the rest are over its rate"
    );
    // With the metrics token: the address is over its anonymous rate, and the token also shows the
    // per-model series.
    let metrics = server.client(Some("scraper")).get("/metrics").text();
    assert!(!metrics.contains("chosen_"), "a caller's name in /metrics:\n{metrics}");
    assert!(
        metrics.lines().any(|l| l.starts_with("sandkasse_http_requests_total")
            && l.contains("/inference.GRPCInferenceService/ModelInfer")
            && l.contains("status=\"429\"")),
        "the refusals are counted under the method:\n{metrics}"
    );
}

/// A client that keeps its HTTP/2 flow-control window shut cannot take its answer; it still
/// answers pings, so the connection looks alive. It must not hold its connection slot: once the
/// answer has waited the idle timeout, the server drops the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_the_client_will_not_take_does_not_hold_its_connection() {
    let data = Data::sqlite();
    let server = data.start(&["--grpc-bind", "127.0.0.1:0", "--idle-timeout-secs", "2"]);
    let addr = server.grpc.clone().unwrap();
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (client, conn) = h2::client::Builder::new()
        .initial_window_size(0)
        .handshake::<_, Bytes>(tcp)
        .await
        .unwrap();
    let open = tokio::spawn(async move {
        let started = Instant::now();
        let _ = conn.await;
        started.elapsed()
    });
    let mut client = client.ready().await.unwrap();
    let req = http::Request::post(format!("http://{addr}/inference.GRPCInferenceService/ServerLive"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (answer, mut send) = client.send_request(req, false).unwrap();
    send.send_data(frame(&[]), true).unwrap();
    // The answer's head arrives (HEADERS are not flow-controlled); its message cannot.
    let answer = answer.await.unwrap();
    assert_eq!(answer.status(), 200);
    let lasted = tokio::time::timeout(Duration::from_secs(20), open)
        .await
        .expect("the server still holds the connection 20 s after an answer nobody takes")
        .unwrap();
    assert!(
        lasted >= Duration::from_secs(2),
        "dropped after {lasted:?}, before the idle timeout"
    );
    drop(answer);
}

/// A caller with a token may still not make the server allocate far beyond what it sent: a
/// message of half a million empty inputs (1 MiB, within the size limit) would decode into
/// ~156 MiB of structs; it is refused by the schema walk before decoding. Bytes that are not a
/// message are INVALID_ARGUMENT, the caller's error, not INTERNAL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_would_decode_to_far_more_than_it_is_is_refused_before_decoding() {
    let data = Data::sqlite();
    let vendor = data.add_user("Vendor", "vendor", "v");
    let server = data.start(&["--grpc-bind", "127.0.0.1:0"]);
    let addr = server.grpc.clone().unwrap();
    let bomb = frame(&[0x2a, 0x00].repeat(524_287));
    let o = call(&addr, "ModelInfer", Some(&vendor), bomb).await;
    assert_eq!(o.status, Some(INVALID_ARGUMENT), "{o:?}");
    assert!(o.message.contains("would take more than"), "{o:?}");
    let garbage = frame(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    let o = call(&addr, "ModelInfer", Some(&vendor), garbage).await;
    assert_eq!(o.status, Some(INVALID_ARGUMENT), "{o:?}");
    assert!(o.message.contains("not a valid inference.ModelInferRequest"), "{o:?}");
}

/// What the supervisor looks at over gRPC is on record, as over HTTP: an advisor's metadata read
/// and refused inference call each leave an audit entry naming the method, the model and the
/// outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_advisors_calls_are_in_the_audit_log() {
    let data = Data::sqlite();
    let authority = data.add_user("Authority", "authority", "a");
    let vendor = data.add_user("Vendor", "vendor", "v");
    let advisor = data.add_user("Datatilsynet", "advisor", "Dorte Advisor");
    let server = data.start(&["--grpc-bind", "127.0.0.1:0"]);
    let addr = server.grpc.clone().unwrap();
    let case = server
        .client(Some(&authority))
        .post(
            "/api/v1/cases",
            &serde_json::json!({"name": "g", "members": ["Vendor"]}),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = server.client(Some(&vendor)).upload_files(&case, "unemployment-logreg");
    assert_eq!(r.status, 201, "{}", r.text());
    let model = r.json()["id"].as_str().unwrap().to_owned();
    let metadata = pb::ModelMetadataRequest {
        name: model.clone(),
        ..Default::default()
    };
    let o = call(&addr, "ModelMetadata", Some(&advisor), frame(&metadata.encode_to_vec())).await;
    assert_eq!(o.status, Some(0), "{o:?}");
    let infer = pb::ModelInferRequest {
        model_name: model.clone(),
        ..Default::default()
    };
    let o = call(&addr, "ModelInfer", Some(&advisor), frame(&infer.encode_to_vec())).await;
    assert_eq!(o.status, Some(INVALID_ARGUMENT), "{o:?}");
    // The vendor's own calls are not audited reads.
    let o = call(&addr, "ModelMetadata", Some(&vendor), frame(&metadata.encode_to_vec())).await;
    assert_eq!(o.status, Some(0), "{o:?}");
    let log = server.client(Some(&advisor)).get("/api/v1/audit?limit=1000").json();
    let entries: Vec<(String, String, String, String)> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("gRPC "))
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_owned();
            (s("action"), s("role"), s("object"), s("outcome"))
        })
        .collect();
    let want = |method: &str, outcome: &str| {
        (
            format!("gRPC /inference.GRPCInferenceService/{method}"),
            "advisor".to_owned(),
            model.clone(),
            outcome.to_owned(),
        )
    };
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(entries.contains(&want("ModelMetadata", "200")), "{entries:?}");
    assert!(entries.contains(&want("ModelInfer", "400")), "{entries:?}");
}

/// An answer counts against its address's call cap until it has been sent, not only until it was
/// made: a client that takes no answers (its HTTP/2 window shut) cannot pile up answers beyond
/// the cap. With a cap of 2, two untaken answers make a third call RESOURCE_EXHAUSTED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untaken_answers_keep_their_place_under_the_call_cap() {
    let data = Data::sqlite();
    let server = data.start(&["--grpc-bind", "127.0.0.1:0", "--max-connections-per-address", "2"]);
    let addr = server.grpc.clone().unwrap();
    let mut client = connect(&addr, Some(0)).await.ready().await.unwrap();
    let mut heads = Vec::new();
    for _ in 0..3 {
        let req = http::Request::post(format!("http://{addr}/inference.GRPCInferenceService/ServerLive"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .unwrap();
        let (answer, mut send) = client.send_request(req, false).unwrap();
        send.send_data(frame(&[]), true).unwrap();
        // The head arrives whatever the window (HEADERS are not flow-controlled).
        let answer = tokio::time::timeout(Duration::from_secs(10), answer)
            .await
            .unwrap()
            .unwrap();
        heads.push(
            answer
                .headers()
                .get("grpc-status")
                .map(|v| v.to_str().unwrap().to_owned()),
        );
        // Kept, not dropped: a dropped answer's stream is reset and its place given back.
        std::mem::forget(answer);
        client = client.ready().await.unwrap();
    }
    assert_eq!(
        heads,
        [None, None, Some(RESOURCE_EXHAUSTED.to_string())],
        "two answers waiting to be sent, so the third call is over the cap"
    );
}
