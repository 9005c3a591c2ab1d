//! The load generator: raw HTTP/1.1 over keep-alive TCP connections,
//! sending requests serialized to bytes before the clock starts.
//!
//! It exists so that the bench measures the server and not its client. A
//! general HTTP client builds a request, resolves, pools, decodes; here a
//! request is a ready slice of bytes and a reply is read only as far as
//! its framing needs (the status line, `Content-Length` or chunks). It runs
//! on a runtime of its own, on one thread, the way an outside load tool
//! (wrk, oha) would: the server's runtime never runs a client task.
//!
//! Every reply is still checked ([`Check`]): a fast error is not a served
//! request, so a run that gets one stops and says what came back.

use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What makes a reply a success. Tencent's legacy API answers errors with
/// HTTP 200 and a non-zero `code`, NAVER's service wraps `returnCode`, so
/// the status alone would count refusals as served cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// HTTP 200.
    Status200,
    /// HTTP 200 and a JSON body whose `"code"` is `0`.
    TencentCodeZero,
    /// HTTP 200 and a JSON body whose `"returnCode"` is `"0"`.
    NaverReturnCodeZero,
}

impl Check {
    pub fn accepts(self, status: u16, body: &[u8]) -> bool {
        if status != 200 {
            return false;
        }
        match self {
            Check::Status200 => true,
            Check::TencentCodeZero => json_field(body, b"\"code\"").is_some_and(|v| {
                v.first() == Some(&b'0') && !v.get(1).is_some_and(u8::is_ascii_digit)
            }),
            Check::NaverReturnCodeZero => {
                json_field(body, b"\"returnCode\"").is_some_and(|v| v.starts_with(b"\"0\""))
            }
        }
    }
}

/// The text after `"name":` (whitespace skipped) at the name's first
/// occurrence as a key. A byte search, not a parse: the load generator
/// must not spend what a JSON parser costs on every reply.
fn json_field<'b>(body: &'b [u8], name: &[u8]) -> Option<&'b [u8]> {
    let mut from = 0;
    while let Some(at) = find(&body[from..], name) {
        let rest = &body[from + at + name.len()..];
        let rest = trim_start(rest);
        if let Some(value) = rest.strip_prefix(b":") {
            return Some(trim_start(value));
        }
        // The name as a value, not a key: look further.
        from += at + name.len();
    }
    None
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One reply, located in the read buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// The body's bytes; for a chunked reply, the chunks joined.
    pub body: Body,
    /// Bytes of the buffer the reply took, head and framing included.
    pub consumed: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// `Content-Length` framing: the body is this range of the buffer.
    Range(Range<usize>),
    /// Chunked: the chunks, joined.
    Owned(Vec<u8>),
}

impl Reply {
    pub fn body<'b>(&'b self, buf: &'b [u8]) -> &'b [u8] {
        match &self.body {
            Body::Range(r) => &buf[r.clone()],
            Body::Owned(v) => v,
        }
    }
}

/// Parses one HTTP/1.1 reply at the start of `buf`: `Ok(None)` when more
/// bytes are needed. A reply the load generator cannot frame (no
/// `Content-Length` and not chunked, or `Connection: close`, which would
/// end the keep-alive connection the figures rely on) is an error.
pub fn parse_reply(buf: &[u8]) -> Result<Option<Reply>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut head = httparse::Response::new(&mut headers);
    let head_len = match head.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("the reply is not HTTP/1.1: {e}")),
    };
    let status = head.code.unwrap_or(0);
    let (mut length, mut chunked) = (None, false);
    for h in head.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(h.value).unwrap_or("");
            length = Some(
                text.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("a Content-Length of `{text}`"))?,
            );
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h.value.eq_ignore_ascii_case(b"chunked");
        } else if h.name.eq_ignore_ascii_case("connection")
            && h.value.eq_ignore_ascii_case(b"close")
        {
            return Err(format!(
                "HTTP {status} with `Connection: close`: the server ended the keep-alive connection"
            ));
        }
    }
    if chunked {
        return Ok(dechunk(&buf[head_len..])?.map(|(body, used)| Reply {
            status,
            body: Body::Owned(body),
            consumed: head_len + used,
        }));
    }
    let Some(length) = length else {
        return Err(format!(
            "HTTP {status} without Content-Length and not chunked: its end cannot be found on a keep-alive connection"
        ));
    };
    if buf.len() < head_len + length {
        return Ok(None);
    }
    Ok(Some(Reply {
        status,
        body: Body::Range(head_len..head_len + length),
        consumed: head_len + length,
    }))
}

/// Joins the chunks of a chunked body: `Ok(None)` until the last chunk
/// and the blank line after the (ignored) trailers have arrived.
fn dechunk(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, String> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let Some(eol) = find(&buf[at..], b"\r\n") else {
            return Ok(None);
        };
        let line = &buf[at..at + eol];
        let size_text = line.split(|&c| c == b';').next().unwrap_or(line);
        let size_text = std::str::from_utf8(size_text).unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("a chunk size of `{size_text}`"))?;
        at += eol + 2;
        if size == 0 {
            // Trailers, each ending in CRLF, then an empty line.
            loop {
                let Some(eol) = find(&buf[at..], b"\r\n") else {
                    return Ok(None);
                };
                at += eol + 2;
                if eol == 0 {
                    return Ok(Some((body, at)));
                }
            }
        }
        if buf.len() < at + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[at..at + size]);
        if &buf[at + size..at + size + 2] != b"\r\n" {
            return Err("a chunk not followed by CRLF".into());
        }
        at += size + 2;
    }
}

/// A GET (or a request with a body) as the bytes that go on the wire.
pub fn serialize(
    method: &str,
    path_and_query: &str,
    host: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Bytes {
    let mut out = Vec::with_capacity(path_and_query.len() + 128);
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path_and_query.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(body) = body {
        out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        out.extend_from_slice(body);
    } else {
        out.extend_from_slice(b"\r\n");
    }
    Bytes::from(out)
}

/// One keep-alive connection with its read buffer.
pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> Result<Connection, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("failed to connect to {addr}: {e}"))?;
        // One small request in flight at a time: Nagle would hold it back.
        stream
            .set_nodelay(true)
            .map_err(|e| format!("failed to set TCP_NODELAY: {e}"))?;
        Ok(Connection {
            stream,
            buf: Vec::with_capacity(64 << 10),
        })
    }

    /// Sends one request and reads its reply; an error when the reply
    /// fails `check`, with the start of what came back.
    pub async fn exchange(&mut self, request: &[u8], check: Check) -> Result<Reply, String> {
        self.stream
            .write_all(request)
            .await
            .map_err(|e| format!("failed to send: {e}"))?;
        self.buf.clear();
        loop {
            if !self.buf.is_empty() {
                if let Some(reply) = parse_reply(&self.buf)? {
                    let body = reply.body(&self.buf);
                    if !check.accepts(reply.status, body) {
                        let shown = &body[..body.len().min(400)];
                        return Err(format!(
                            "HTTP {}: {}",
                            reply.status,
                            String::from_utf8_lossy(shown)
                        ));
                    }
                    if reply.consumed != self.buf.len() {
                        return Err("the server sent bytes after its reply".into());
                    }
                    return Ok(reply);
                }
            }
            if self.buf.capacity() - self.buf.len() < 16 << 10 {
                self.buf.reserve(64 << 10);
            }
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| format!("failed to read the reply: {e}"))?;
            if n == 0 {
                return Err("the server closed the connection before replying".into());
            }
        }
    }

    /// The body of `reply`, the last reply read.
    pub fn body<'c>(&'c self, reply: &'c Reply) -> &'c [u8] {
        reply.body(&self.buf)
    }
}

/// Sends one request on a connection of its own and returns the body of
/// its reply (to look at what is measured, outside any timing).
pub async fn fetch(addr: SocketAddr, request: &[u8], check: Check) -> Result<Vec<u8>, String> {
    let mut conn = Connection::open(addr).await?;
    let reply = conn.exchange(request, check).await?;
    Ok(conn.body(&reply).to_vec())
}

/// The requests one connection sends, in units that must complete
/// together (an assign and the unassign that undoes it), so that a run
/// stopped between units leaves the world as it found it.
pub struct Work {
    pub requests: Vec<Bytes>,
    pub unit: usize,
}

/// What a rate run did.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Units completed over every connection.
    pub units: u64,
    pub elapsed: Duration,
    /// CPU time the load generator's thread spent in the window (Unix):
    /// what the client cost, to show it is next to nothing.
    pub client_cpu: Option<Duration>,
}

impl Rate {
    pub fn per_second(&self) -> f64 {
        self.units as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs one connection per `Work` at once for `window` (all connected
/// before the clock starts), each sending its units back to back; stops
/// between units at the end of the window or when any connection runs out.
pub async fn rate(
    addr: SocketAddr,
    work: Vec<Work>,
    check: Check,
    window: Duration,
) -> Result<Rate, String> {
    let mut connections = Vec::with_capacity(work.len());
    for _ in &work {
        connections.push(Connection::open(addr).await?);
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cpu_before = thread_cpu();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(work.len());
    for (mut conn, work) in connections.into_iter().zip(work) {
        let stop = std::sync::Arc::clone(&stop);
        tasks.push(tokio::spawn(async move {
            use std::sync::atomic::Ordering::Relaxed;
            let mut units = 0u64;
            for unit in work.requests.chunks(work.unit.max(1)) {
                if stop.load(Relaxed) || started.elapsed() >= window {
                    break;
                }
                for request in unit {
                    conn.exchange(request, check).await?;
                }
                units += 1;
            }
            // Whoever stops first stops everyone: the rate is taken over a
            // window in which every connection was busy.
            stop.store(true, Relaxed);
            Ok::<(u64, Instant), String>((units, Instant::now()))
        }));
    }
    let (mut units, mut last) = (0, started);
    for task in tasks {
        let (u, ended) = task.await.map_err(|e| e.to_string())??;
        units += u;
        last = last.max(ended);
    }
    Ok(Rate {
        units,
        elapsed: last - started,
        client_cpu: thread_cpu()
            .zip(cpu_before)
            .map(|(after, before)| after.saturating_sub(before)),
    })
}

/// CPU time of the calling thread: on the load generator's
/// current-thread runtime, all of the client's work.
#[cfg(unix)]
fn thread_cpu() -> Option<Duration> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a plain syscall filling a local timespec.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    (r == 0).then(|| {
        Duration::new(
            t.tv_sec.max(0) as u64,
            t.tv_nsec.clamp(0, 999_999_999) as u32,
        )
    })
}

#[cfg(not(unix))]
fn thread_cpu() -> Option<Duration> {
    None
}

/// Sends `requests` one after another on one connection; the time of each
/// exchange, in order.
pub async fn latencies(
    addr: SocketAddr,
    requests: &[Bytes],
    check: Check,
) -> Result<Vec<Duration>, String> {
    let mut conn = Connection::open(addr).await?;
    let mut out = Vec::with_capacity(requests.len());
    for request in requests {
        let started = Instant::now();
        conn.exchange(request, check).await?;
        out.push(started.elapsed());
    }
    Ok(out)
}

/// Runs `f` on a current-thread runtime on a thread of its own and
/// awaits its result: the load generator never shares a runtime (or its
/// worker threads) with anything else in this process.
pub async fn on_own_thread<T, F, Fut>(f: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("ipconform-loadgen".into())
        .spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("failed to start the load generator's runtime: {e}"))
                .and_then(|rt| rt.block_on(f()));
            let _ = tx.send(result);
        })
        .map_err(|e| format!("failed to start the load generator's thread: {e}"))?;
    rx.await
        .map_err(|_| "the load generator's thread ended without a result".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_is_framed_by_content_length_and_waits_for_all_of_it() {
        let full = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok";
        for cut in 0..full.len() {
            assert_eq!(parse_reply(&full[..cut]), Ok(None), "cut at {cut}");
        }
        let reply = parse_reply(full).unwrap().unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body(full), b"ok");
        assert_eq!(reply.consumed, full.len());
    }

    #[test]
    fn a_chunked_reply_is_joined_and_its_trailers_skipped() {
        let full =
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;x=y\r\n{\"a\r\n2\r\n\":\r\n1\r\n1\r\n0\r\nx-t: 1\r\n\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse_reply(&full[..cut]), Ok(None), "cut at {cut}");
        }
        let reply = parse_reply(full).unwrap().unwrap();
        assert_eq!(reply.body(full), b"{\"a\":1");
        assert_eq!(reply.consumed, full.len());
    }

    #[test]
    fn replies_that_cannot_be_framed_on_keep_alive_are_errors() {
        assert!(parse_reply(b"HTTP/1.1 200 OK\r\n\r\nok").is_err());
        assert!(parse_reply(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n").is_err());
        assert!(
            parse_reply(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
                .is_err()
        );
        assert!(parse_reply(b"garbage\r\n\r\n").is_err());
        assert!(parse_reply(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n"
        )
        .is_err());
    }

    #[test]
    fn checks_see_the_vendors_success_not_only_the_status() {
        let ok = br#"{"code":0,"message":"","codeDesc":"Success","data":{"taskId":0}}"#;
        let spaced = br#"{ "code" : 0 , "data": {}}"#;
        let refused = br#"{"code":4000,"message":"bad","codeDesc":"InvalidParameter"}"#;
        let refused_later =
            br#"{"message":"the \"code\" field","code":4100,"codeDesc":"AuthFailure"}"#;
        assert!(Check::TencentCodeZero.accepts(200, ok));
        assert!(Check::TencentCodeZero.accepts(200, spaced));
        assert!(!Check::TencentCodeZero.accepts(200, refused));
        assert!(!Check::TencentCodeZero.accepts(200, refused_later));
        assert!(!Check::TencentCodeZero.accepts(500, ok));
        let naver = br#"{"assignSecondaryIpsResponse":{"requestId":"x","returnCode":"0"}}"#;
        let naver_no = br#"{"responseError":{"returnCode":"1002103","returnMessage":"x"}}"#;
        assert!(Check::NaverReturnCodeZero.accepts(200, naver));
        assert!(!Check::NaverReturnCodeZero.accepts(200, naver_no));
        assert!(!Check::Status200.accepts(404, b""));
        assert!(Check::Status200.accepts(200, b""));
    }

    #[test]
    fn a_request_is_serialized_with_its_host_and_body_length() {
        let get = serialize("GET", "/?a=1", "127.0.0.1:9", &[], None);
        assert_eq!(&get[..], b"GET /?a=1 HTTP/1.1\r\nhost: 127.0.0.1:9\r\n\r\n");
        let post = serialize(
            "POST",
            "/v2/index.php",
            "h",
            &[("content-type".into(), "x".into())],
            Some(b"a=1"),
        );
        assert_eq!(
            &post[..],
            b"POST /v2/index.php HTTP/1.1\r\nhost: h\r\ncontent-type: x\r\ncontent-length: 3\r\n\r\na=1"
        );
    }
}
