//! Test-only TLS: a CA and certificates made at test time (rcgen), a TLS-terminating front
//! that relays to a plain server (the emulator), and a CONNECT proxy. Everything listens on
//! 127.0.0.1 and stops when dropped.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate authority made for one test.
pub struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    /// The CA certificate, PEM.
    pub pem: String,
}

/// A server certificate and its key.
pub struct ServerCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// How a server certificate is wrong, or not.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Validity {
    /// Valid now, for 127.0.0.1 and localhost.
    Good,
    /// Valid for 127.0.0.1, but its dates ended in 2021.
    Expired,
    /// Valid now, but only for `other.example`.
    WrongHost,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa { params, key, pem }
    }

    /// A server certificate signed by this CA.
    pub fn server_cert(&self, validity: Validity) -> ServerCert {
        let names = match validity {
            Validity::Good | Validity::Expired => vec!["127.0.0.1".into(), "localhost".into()],
            Validity::WrongHost => vec!["other.example".to_string()],
        };
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "vidu test server");
        if validity == Validity::Expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        ServerCert {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }

    /// The CA certificate written to a PEM file at `path`.
    pub fn write_pem(&self, path: &std::path::Path) {
        std::fs::write(path, &self.pem).unwrap();
    }
}

/// Accepts connections on 127.0.0.1 and hands each to `serve` on a thread of its own;
/// dropping it closes the listener and every connection, and joins the threads.
struct Acceptor {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    thread: Option<JoinHandle<()>>,
}

impl Acceptor {
    fn start(serve: impl Fn(TcpStream, &Mutex<Vec<TcpStream>>) + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let serve = Arc::new(serve);
        let (stop2, open2) = (stop.clone(), open.clone());
        let thread = std::thread::spawn(move || {
            let mut workers = Vec::new();
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                open2.lock().unwrap().push(conn.try_clone().unwrap());
                let (serve, open) = (serve.clone(), open2.clone());
                workers.push(std::thread::spawn(move || serve(conn, &open)));
            }
            for w in workers {
                let _ = w.join();
            }
        });
        Acceptor {
            addr,
            stop,
            open,
            thread: Some(thread),
        }
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Copies `from` to `to` until either side closes, then closes both.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// A TLS front: terminates TLS with a test certificate and relays the plain bytes to
/// `backend` (an emulator origin), one backend connection per client connection.
pub struct TlsFront {
    acceptor: Acceptor,
    /// TLS handshakes completed.
    pub handshakes: Arc<AtomicU32>,
    /// Connections accepted, handshake or not.
    pub connections: Arc<AtomicU32>,
}

impl TlsFront {
    pub fn start(backend: SocketAddr, cert: ServerCert) -> TlsFront {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(cert.chain, cert.key)
        .unwrap();
        let config = Arc::new(config);
        let handshakes = Arc::new(AtomicU32::new(0));
        let connections = Arc::new(AtomicU32::new(0));
        let (h, c) = (handshakes.clone(), connections.clone());
        let acceptor = Acceptor::start(move |client, open| {
            c.fetch_add(1, Ordering::SeqCst);
            relay_tls(client, backend, config.clone(), &h, open);
        });
        TlsFront {
            acceptor,
            handshakes,
            connections,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.acceptor.addr
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://{}", self.acceptor.addr)
    }
}

/// One TLS connection: the handshake, then plain bytes both ways. rustls' connection is
/// sans-IO: each direction reads its own socket and works the shared state under a lock.
fn relay_tls(
    client: TcpStream,
    backend: SocketAddr,
    config: Arc<rustls::ServerConfig>,
    handshakes: &AtomicU32,
    open: &Mutex<Vec<TcpStream>>,
) {
    let mut tls = rustls::ServerConnection::new(config).unwrap();
    let mut client_rw = client.try_clone().unwrap();
    // The handshake, on this thread alone.
    while tls.is_handshaking() {
        if tls.complete_io(&mut client_rw).is_err() {
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
    }
    handshakes.fetch_add(1, Ordering::SeqCst);
    let Ok(upstream) = TcpStream::connect(backend) else {
        return;
    };
    open.lock().unwrap().push(upstream.try_clone().unwrap());
    let tls = Arc::new(Mutex::new(tls));
    // Backend to client: encrypt what the backend says.
    let down = {
        let (tls, mut client_w, mut upstream_r) = (
            tls.clone(),
            client.try_clone().unwrap(),
            upstream.try_clone().unwrap(),
        );
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match upstream_r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let mut tls = tls.lock().unwrap();
                if tls.writer().write_all(&buf[..n]).is_err() {
                    break;
                }
                if write_tls(&mut tls, &mut client_w).is_err() {
                    break;
                }
            }
            let mut tls = tls.lock().unwrap();
            tls.send_close_notify();
            let _ = write_tls(&mut tls, &mut client_w);
            let _ = client_w.shutdown(Shutdown::Both);
        })
    };
    // Client to backend: decrypt what the client says, starting with what came in with the
    // end of the handshake.
    let mut client_r = client.try_clone().unwrap();
    let mut upstream_w = upstream.try_clone().unwrap();
    let mut early = Vec::new();
    let _ = tls.lock().unwrap().reader().read_to_end(&mut early);
    if upstream_w.write_all(&early).is_err() {
        return;
    }
    let mut buf = vec![0u8; 64 * 1024];
    'read: loop {
        let n = match client_r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut plain = Vec::new();
        {
            let mut tls = tls.lock().unwrap();
            let mut rest = &buf[..n];
            while !rest.is_empty() {
                if tls.read_tls(&mut rest).is_err() || tls.process_new_packets().is_err() {
                    break 'read;
                }
                let _ = tls.reader().read_to_end(&mut plain);
            }
            // Alerts or key updates the client's records call for.
            if write_tls(&mut tls, &mut client_rw).is_err() {
                break;
            }
        }
        if upstream_w.write_all(&plain).is_err() {
            break;
        }
    }
    let _ = upstream.shutdown(Shutdown::Both);
    let _ = down.join();
}

fn write_tls(tls: &mut rustls::ServerConnection, to: &mut TcpStream) -> std::io::Result<()> {
    while tls.wants_write() {
        tls.write_tls(to)?;
    }
    Ok(())
}

/// An HTTP CONNECT proxy that carries no credentials of its own: it records each CONNECT
/// request head and then relays bytes blindly.
pub struct ConnectProxy {
    acceptor: Acceptor,
    /// The head of every CONNECT request received, as text.
    pub heads: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    pub fn start() -> ConnectProxy {
        let heads = Arc::new(Mutex::new(Vec::new()));
        let h = heads.clone();
        let acceptor = Acceptor::start(move |mut client, open| {
            let Some(head) = read_head(&mut client) else {
                return;
            };
            h.lock().unwrap().push(head.clone());
            let target = head
                .strip_prefix("CONNECT ")
                .and_then(|r| r.split(' ').next())
                .unwrap_or("");
            let Ok(upstream) = TcpStream::connect(target) else {
                let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
                return;
            };
            open.lock().unwrap().push(upstream.try_clone().unwrap());
            if client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .is_err()
            {
                return;
            }
            let (c2, u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
            let up = std::thread::spawn(move || pump(c2, u2));
            pump(upstream, client);
            let _ = up.join();
        });
        ConnectProxy { acceptor, heads }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.acceptor.addr)
    }
}

/// Reads a request head byte by byte (nothing past it is consumed), or `None` if the
/// connection ends first.
fn read_head(conn: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).ok()? == 0 || head.len() > 16 * 1024 {
            return None;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).ok()
}
