//! Slow, idle and stalled clients against the real `sandkasse serve`: they are cut off by the header, body and
//! download timeouts and the connection cap, and clients that behave keep being answered.

mod service;

use service::{Data, Service};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn connect(server: &Service) -> TcpStream {
    let addr = server.base.strip_prefix("http://").unwrap();
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Reads one answer's head and its `Content-Length` body; returns (status line, body).
fn read_answer(s: &mut TcpStream) -> (String, Vec<u8>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).unwrap();
        assert_eq!(
            n,
            1,
            "the connection closed in the head: {}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    (head.lines().next().unwrap().to_owned(), body)
}

/// Whether the server closed `s` (end of stream or reset) within the socket's read timeout; any bytes it sent
/// first (e.g. a 408 or 400 answer) are returned.
fn closed_by_server(s: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(got),
            Err(e) => return Err(format!("still open after the read timeout ({e}); got {got:?}")),
        }
    }
}

fn get_me(token: &str) -> String {
    format!("GET /api/v1/me HTTP/1.1\r\nHost: sandkasse\r\nAuthorization: Bearer {token}\r\n\r\n")
}

#[test]
fn half_sent_heads_and_bodies_are_cut_off_after_their_timeouts() {
    let data = Data::sqlite();
    let token = data.add_user("Nordlys Analytics", "vendor", "Niels");
    let server = data.start(&["--header-timeout-secs", "2", "--body-timeout-secs", "2"]);

    // Half a head, then nothing: closed after the header timeout (before, it stayed open for ever).
    let mut slow = connect(&server);
    slow.write_all(b"GET /api/v1/me HTTP/1.1\r\nHost: sandkasse\r\n")
        .unwrap();
    let t = Instant::now();
    let got = closed_by_server(&mut slow).expect("a half-sent head must be closed");
    assert!(
        got.is_empty() || String::from_utf8_lossy(&got).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert!(
        t.elapsed() >= Duration::from_secs(1),
        "closed before its timeout: {:?}",
        t.elapsed()
    );

    // A whole head whose body never comes: answered with an error and closed after the body timeout.
    let mut slow = connect(&server);
    write!(
        slow,
        "POST /api/v1/cases HTTP/1.1\r\nHost: sandkasse\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\""
    )
    .unwrap();
    let got = closed_by_server(&mut slow).expect("a body that never arrives must be cut off");
    let text = String::from_utf8_lossy(&got);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 4"), "{text}");

    // And the service answers the next client.
    let mut ok = connect(&server);
    ok.write_all(get_me(&token).as_bytes()).unwrap();
    let (status, body) = read_answer(&mut ok);
    assert!(status.contains(" 200 "), "{status}: {}", String::from_utf8_lossy(&body));
}

#[test]
fn connections_over_the_cap_are_closed_at_once_and_connected_clients_keep_working() {
    let data = Data::sqlite();
    let token = data.add_user("Nordlys Analytics", "vendor", "Niels");
    // A long header timeout, so the slow connections keep their slots for the whole test.
    let server = data.start(&["--max-connections", "50", "--header-timeout-secs", "60"]);

    // A client connected before the flood.
    let mut client = connect(&server);
    client.write_all(get_me(&token).as_bytes()).unwrap();
    assert!(read_answer(&mut client).0.contains(" 200 "));

    // 200 connections that send half a head and wait.
    let mut flood = Vec::new();
    for _ in 0..200 {
        let mut s = connect(&server);
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: sandkasse\r\n");
        flood.push(s);
    }
    // The client still gets its answer, on its own connection.
    client.write_all(get_me(&token).as_bytes()).unwrap();
    let (status, body) = read_answer(&mut client);
    assert!(status.contains(" 200 "), "{status}: {}", String::from_utf8_lossy(&body));

    // Those over the cap (all but 49: the client holds one slot) were closed at once, long before the
    // header timeout; the others are still open.
    std::thread::sleep(Duration::from_secs(2));
    for s in &flood {
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    }
    let closed = flood.iter_mut().filter_map(|s| closed_by_server(s).ok()).count();
    assert_eq!(
        closed,
        200 - 49,
        "connections over the cap of 50 must be closed at once"
    );
}

/// The server process's open files under `dir` (deleted or not).
fn open_files_under(server: &Service, dir: &std::path::Path) -> usize {
    let fds = format!("/proc/{}/fd", server.child.id());
    std::fs::read_dir(fds)
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|p| p.starts_with(dir))
        .count()
}

#[test]
fn a_stalled_download_gives_back_its_file_and_its_slot() {
    let data = Data::sqlite();
    let token = data.add_user("Nordlys Analytics", "vendor", "Niels");
    let server = data.start(&["--download-idle-secs", "2"]);
    let tmp = data.dir.path().join("tmp");
    // Two downloads (both slots) read their heads and then stop reading. The file is larger than what the
    // sockets buffer, so the server cannot finish sending it.
    let request = format!(
        "GET /api/v1/scenarios/unemployment-risk/dataset?rows=1000000 HTTP/1.1\r\nHost: sandkasse\r\n\
         Authorization: Bearer {token}\r\n\r\n"
    );
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut s = connect(&server);
        s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(s.read(&mut byte).unwrap(), 1);
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&head));
        stalled.push(s);
    }
    assert!(
        open_files_under(&server, &tmp) >= 1,
        "a stalled download holds its temporary file until the idle timeout"
    );
    let t = Instant::now();
    while open_files_under(&server, &tmp) > 0 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the stalled downloads still hold their temporary files"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Both slots are free: a third download is served while the two stalled clients are still connected.
    let r = server
        .client(Some(&token))
        .get("/api/v1/scenarios/unemployment-risk/dataset?rows=1000");
    assert_eq!(r.status, 200);
    drop(stalled);
}
