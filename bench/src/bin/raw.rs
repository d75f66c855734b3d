//! Contender (wasm32-wasip2 only): a raw `wasi:sockets` loop with the `wasi` crate, as the
//! wasm ceiling. Sequential scenarios: `blocking-write-and-flush` of a prebuilt request
//! (`check-write`/`write` then `blocking-flush` for a 64 KiB POST) and `blocking-read`s of
//! the response, framed by its `Content-Length` (no other parsing). `c64`: 64 sockets and one
//! `wasi:io/poll` loop over their input streams.

#[cfg(not(target_os = "wasi"))]
fn main() {
    roundtrip_bench::unsupported("raw", "the raw wasi:sockets loop is wasm32-wasip2 only");
}

#[cfg(target_os = "wasi")]
fn main() {
    use roundtrip_bench::{args, report, Scenario, Timer};
    let a = args();
    let timer = Timer::start();
    let result = match a.scenario {
        Scenario::C64 => imp::concurrent(&a),
        _ => imp::sequential(&a),
    };
    report("raw", &a, result, timer.elapsed(), &[]);
}

#[cfg(target_os = "wasi")]
mod imp {
    use roundtrip_bench::{check_len, Args, Scenario, POST_BODY};
    use wasi::io::poll::{poll, Pollable};
    use wasi::io::streams::{InputStream, OutputStream, StreamError};
    use wasi::sockets::instance_network::instance_network;
    use wasi::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
    use wasi::sockets::tcp::TcpSocket;
    use wasi::sockets::tcp_create_socket::create_tcp_socket;

    pub struct Conn {
        // Drop order: pollables (children of the streams), streams (children of the socket).
        readable: Pollable,
        writable: Pollable,
        input: InputStream,
        output: OutputStream,
        _socket: TcpSocket,
    }

    fn stream_err(e: StreamError) -> String {
        match e {
            StreamError::Closed => "connection closed".into(),
            StreamError::LastOperationFailed(e) => e.to_debug_string(),
        }
    }

    fn connect(authority: &str) -> Result<Conn, String> {
        let addr: std::net::SocketAddrV4 =
            authority.parse().map_err(|e| format!("{authority}: {e}"))?;
        let [a0, a1, a2, a3] = addr.ip().octets();
        let network = instance_network();
        let socket = create_tcp_socket(IpAddressFamily::Ipv4).map_err(|e| format!("{e:?}"))?;
        socket
            .start_connect(
                &network,
                IpSocketAddress::Ipv4(Ipv4SocketAddress {
                    port: addr.port(),
                    address: (a0, a1, a2, a3),
                }),
            )
            .map_err(|e| format!("{e:?}"))?;
        let ready = socket.subscribe();
        let (input, output) = loop {
            match socket.finish_connect() {
                Ok(streams) => break streams,
                Err(ErrorCode::WouldBlock) => ready.block(),
                Err(e) => return Err(format!("connect: {e:?}")),
            }
        };
        drop(ready);
        Ok(Conn {
            readable: input.subscribe(),
            writable: output.subscribe(),
            input,
            output,
            _socket: socket,
        })
    }

    fn request(a: &Args) -> Vec<u8> {
        let path = a.scenario.path();
        let mut req = match a.scenario {
            Scenario::Post => format!(
                "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
                a.authority,
                POST_BODY.len()
            ),
            _ => format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", a.authority),
        }
        .into_bytes();
        if a.scenario == Scenario::Post {
            req.extend_from_slice(&POST_BODY);
        }
        req
    }

    fn send(c: &Conn, req: &[u8]) -> Result<(), String> {
        if req.len() <= 4096 {
            return c.output.blocking_write_and_flush(req).map_err(stream_err);
        }
        let mut rest = req;
        while !rest.is_empty() {
            let permit = c.output.check_write().map_err(stream_err)? as usize;
            if permit == 0 {
                c.writable.block();
                continue;
            }
            let n = permit.min(rest.len());
            c.output.write(&rest[..n]).map_err(stream_err)?;
            rest = &rest[n..];
        }
        c.output.blocking_flush().map_err(stream_err)
    }

    /// Response framing: `Some(total)` (head + Content-Length) once the head is in `buf`.
    fn framed_len(buf: &[u8]) -> Result<Option<usize>, String> {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            return Ok(None);
        };
        let head = &buf[..end];
        if !head.starts_with(b"HTTP/1.1 200") {
            return Err(format!(
                "unexpected response: {:?}",
                String::from_utf8_lossy(&head[..head.len().min(40)])
            ));
        }
        for line in head.split(|&b| b == b'\n') {
            if line.len() > 15 && line[..15].eq_ignore_ascii_case(b"content-length:") {
                let v = std::str::from_utf8(&line[15..])
                    .map_err(|e| e.to_string())?
                    .trim();
                let n: usize = v.parse().map_err(|_| format!("bad content-length {v:?}"))?;
                return Ok(Some(end + 4 + n));
            }
        }
        Err("no content-length".into())
    }

    /// Reads one response with blocking reads; returns its body length.
    fn receive(c: &Conn) -> Result<u64, String> {
        let mut head = Vec::with_capacity(1024 + 512);
        let total = loop {
            head.extend_from_slice(&c.input.blocking_read(64 * 1024).map_err(stream_err)?);
            if let Some(total) = framed_len(&head)? {
                break total;
            }
        };
        let mut have = head.len();
        while have < total {
            have += c
                .input
                .blocking_read(((total - have) as u64).min(64 * 1024))
                .map_err(stream_err)?
                .len();
        }
        Ok(body_len(&head, total))
    }

    fn body_len(head: &[u8], total: usize) -> u64 {
        let end = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
        (total - end) as u64
    }

    pub fn sequential(a: &Args) -> Result<(usize, u64), String> {
        let c = connect(&a.authority)?;
        let req = request(a);
        let mut bytes = 0;
        for _ in 0..a.n {
            send(&c, &req)?;
            let got = receive(&c)?;
            check_len(a.scenario, got)?;
            bytes += got;
        }
        Ok((a.n, bytes))
    }

    /// 64 connections, each with `per_worker` requests one after another; one poll loop.
    pub fn concurrent(a: &Args) -> Result<(usize, u64), String> {
        struct State {
            conn: Conn,
            left: usize,
            buf: Vec<u8>,
            total: Option<usize>,
        }
        let req = request(a);
        let per = a.per_worker();
        let mut states = Vec::new();
        for _ in 0..a.scenario.workers() {
            let conn = connect(&a.authority)?;
            states.push(State {
                conn,
                left: per,
                buf: Vec::with_capacity(2048),
                total: None,
            });
        }
        for s in &states {
            if s.left > 0 {
                send(&s.conn, &req)?;
            }
        }
        let (mut done, mut bytes) = (0usize, 0u64);
        let mut active: Vec<usize> = (0..states.len()).filter(|&i| states[i].left > 0).collect();
        while !active.is_empty() {
            let ready = {
                let list: Vec<&Pollable> =
                    active.iter().map(|&i| &states[i].conn.readable).collect();
                poll(&list)
            };
            let mut finished = Vec::new();
            for r in ready {
                let i = active[r as usize];
                let s = &mut states[i];
                let chunk = s.conn.input.read(64 * 1024).map_err(stream_err)?;
                s.buf.extend_from_slice(&chunk);
                if s.total.is_none() {
                    s.total = framed_len(&s.buf)?;
                }
                if let Some(total) = s.total {
                    if s.buf.len() >= total {
                        let got = body_len(&s.buf, total);
                        check_len(a.scenario, got)?;
                        bytes += got;
                        done += 1;
                        s.buf.clear();
                        s.total = None;
                        s.left -= 1;
                        if s.left > 0 {
                            send(&s.conn, &req)?;
                        } else {
                            finished.push(i);
                        }
                    }
                }
            }
            active.retain(|i| !finished.contains(i));
        }
        Ok((done, bytes))
    }
}
