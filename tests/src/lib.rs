//! The end-to-end harness: real `handbilld` processes in temporary homes on 127.0.0.1, driven
//! through their local API, with conditions polled against generous deadlines.
//!
//! Tests never sleep to synchronise and never use fixed ports; every daemon is killed when its
//! [`Node`] is dropped, so a failing test leaves nothing running.

pub mod browser;
pub mod hostile;
pub mod nat;
pub mod netns;
pub mod relay_probe;
pub mod testbed;

use handbill_protocol::api::*;
use handbill_protocol::{AuthorId, EventId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long any condition may take before a test fails. Generous: CI machines are shared.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Builds the workspace's binaries once per test process and returns the directory they are in.
/// `HANDBILL_TEST_BIN_DIR` points the tests at other binaries instead (e.g. an older build, to
/// show that a test fails on the code before a fix).
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("HANDBILL_TEST_BIN_DIR") {
            return PathBuf::from(dir);
        }
        let exe = std::env::current_exe().expect("test executable path");
        // target/<profile>/deps/<test> (or examples/<tool>) -> target/<profile>
        let dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test binary lives in target/<profile>/deps")
            .to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        // Build every binary with the same feature resolution as `cargo test --workspace`
        // (bins and tests of the whole workspace), so nothing is compiled a second time with
        // different features. The release measurement tools run as `cargo run --release -p
        // handbill-tests --example …`, whose features differ from the workspace's: building
        // the binaries in the same target directory made each run rebuild the daemon, and the
        // next `cargo run` rebuild it back. They get a target directory of their own.
        if dir.file_name().is_some_and(|n| n == "release") {
            let own = dir.with_file_name("measure-bins");
            build.args(["build", "--quiet", "--release", "--workspace", "--bins"]);
            build.arg("--target-dir").arg(&own);
            let status = build.status().expect("running cargo build for the daemon");
            assert!(status.success(), "building handbilld failed");
            return own.join("release");
        }
        build.args(["build", "--quiet", "--workspace", "--bins", "--tests"]);
        let status = build.status().expect("running cargo build for the daemon");
        assert!(status.success(), "building handbilld failed");
        dir
    })
}

/// What a CLI run produced.
#[derive(Debug)]
pub struct CliRun {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// How long it took.
    pub took: Duration,
}

impl CliRun {
    /// Standard output parsed as JSON lines.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

/// Runs the real `handbill` CLI against `home`.
pub fn handbill(home: &Path, args: &[&str]) -> CliRun {
    let program = bin_dir().join("handbill");
    let start = Instant::now();
    let output = Command::new(program)
        .arg("--home")
        .arg(home)
        .args(args)
        .stdin(Stdio::null())
        .env_remove("HANDBILL_HOME")
        .output()
        .expect("running handbill");
    CliRun {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        took: start.elapsed(),
    }
}

/// Runs the CLI and asserts success, returning stdout.
pub fn handbill_ok(home: &Path, args: &[&str]) -> String {
    let run = handbill(home, args);
    assert_eq!(run.code, 0, "handbill {args:?} failed: {}", run.stderr);
    run.stdout
}

/// Polls `check` until it returns `Some`, or panics with `what` after [`DEADLINE`].
pub fn wait_for<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    wait_for_within(what, DEADLINE, check)
}

/// Polls `check` until it returns `Some`, or panics with `what` after `deadline`.
pub fn wait_for_within<T>(
    what: &str,
    deadline: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// A running daemon and its home.
pub struct Node {
    /// The node's home directory.
    pub home: PathBuf,
    child: Option<Child>,
    api: String,
    token: String,
    agent: ureq::Agent,
    /// Extra arguments it was started with, for restarts.
    args: Vec<String>,
    /// The network namespace it runs in, if not the test's own (API calls are made from
    /// there too, since its loopback is the namespace's).
    netns: Option<String>,
    /// Its log filter, if not the tests' default.
    log: Option<String>,
}

/// A response: status code and JSON body (or `Value::Null`).
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: serde_json::Value,
}

impl Node {
    /// Starts a daemon in a new home inside `dir`, listening on 127.0.0.1 only.
    pub fn start(dir: &Path, name: &str) -> Node {
        Node::start_with(dir.join(name), Vec::new())
    }

    /// Starts a daemon on an existing or new home with extra arguments.
    pub fn start_with(home: PathBuf, args: Vec<String>) -> Node {
        Node::start_inner(home, args, None)
    }

    /// Starts a daemon inside a network namespace (listening on its loopback and wherever
    /// `args` add).
    pub fn start_in(netns: &netns::Netns, home: PathBuf, args: Vec<String>) -> Node {
        Node::start_inner(home, args, Some(netns.name.clone()))
    }

    /// Starts a daemon inside a network namespace with `log` as its log filter (measurements
    /// keep the daemons' logging quiet, since on a shared machine it costs time).
    pub fn start_in_logging(
        netns: &netns::Netns,
        home: PathBuf,
        args: Vec<String>,
        log: &str,
    ) -> Node {
        Node::start_logging(home, args, Some(netns.name.clone()), Some(log.to_string()))
    }

    fn start_inner(home: PathBuf, args: Vec<String>, netns: Option<String>) -> Node {
        Node::start_logging(home, args, netns, None)
    }

    fn start_logging(
        home: PathBuf,
        args: Vec<String>,
        netns: Option<String>,
        log: Option<String>,
    ) -> Node {
        let _ = std::fs::remove_file(home.join("api.addr"));
        let log_file = std::fs::File::create(home.with_extension("log")).expect("daemon log file");
        let daemon = bin_dir().join("handbilld");
        let mut command = match &netns {
            // `ip netns exec` execs the daemon, so the child's pid is the daemon's.
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&daemon);
                c
            }
            None => Command::new(&daemon),
        };
        let child = command
            .arg("--home")
            .arg(&home)
            .args(["--listen", "/ip4/127.0.0.1/tcp/0"])
            .args(&args)
            // HANDBILL_TEST_LOG overrides the daemons' log filter when debugging a test.
            .env(
                "RUST_LOG",
                std::env::var("HANDBILL_TEST_LOG").unwrap_or_else(|_| {
                    log.clone().unwrap_or_else(|| {
                        "info,handbilld=debug,libp2p_gossipsub=warn,libp2p_kad=error".into()
                    })
                }),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("starting handbilld");
        let api = wait_for("the daemon to write api.addr", || {
            std::fs::read_to_string(home.join("api.addr"))
                .ok()
                .filter(|s| s.ends_with('\n'))
                .map(|s| s.trim().to_string())
        });
        let token = std::fs::read_to_string(home.join("api.token")).expect("api.token");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let node = Node {
            home,
            child: Some(child),
            api,
            token,
            agent,
            args,
            netns,
            log,
        };
        wait_for("the daemon to listen for peers", || {
            node.status().listen_addrs.first().cloned()
        });
        node
    }

    /// Sends a request with the token.
    pub fn call(&self, method: &str, path: &str, body: Option<&impl Serialize>) -> Reply {
        self.call_with(
            method,
            path,
            body,
            &[("Authorization", &format!("Bearer {}", self.token))],
        )
    }

    /// Sends a request with exactly the given headers.
    pub fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&impl Serialize>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let body = body.map(|b| serde_json::to_value(b).expect("a JSON body"));
        self.in_netns(|| self.call_here(method, path, body.as_ref(), headers))
    }

    /// Runs `f` where the daemon's loopback is: on a thread in its namespace, if it has one.
    fn in_netns<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.netns {
            None => f(),
            Some(name) => std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        netns::Netns::enter_named(name);
                        f()
                    })
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }),
        }
    }

    fn call_here(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = format!("{}{path}", self.api);
        let mut response = match (method, body) {
            ("GET", _) => {
                let mut r = self.agent.get(&url);
                for (k, v) in headers {
                    r = r.header(*k, *v);
                }
                r.call()
            }
            ("DELETE", None) => {
                let mut r = self.agent.delete(&url);
                for (k, v) in headers {
                    r = r.header(*k, *v);
                }
                r.call()
            }
            (method, body) => {
                let mut r = match method {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    "DELETE" => self.agent.delete(&url).force_send_body(),
                    other => panic!("unsupported method {other}"),
                };
                for (k, v) in headers {
                    r = r.header(*k, *v);
                }
                match body {
                    Some(b) => r.send_json(b),
                    None => r.send_empty(),
                }
            }
        }
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Reply { status, body }
    }

    /// POSTs raw bytes with the token and the given content type (none if `None`).
    pub fn post_raw(&self, path: &str, content_type: Option<&str>, body: &str) -> Reply {
        let url = format!("{}{path}", self.api);
        let mut r = self
            .agent
            .post(&url)
            .header("Authorization", &format!("Bearer {}", self.token));
        if let Some(ct) = content_type {
            r = r.header("Content-Type", ct);
        }
        let mut response = r
            .send(body.as_bytes())
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Reply { status, body }
    }

    /// GET and decode, asserting success.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> T {
        let reply = self.call("GET", path, None::<&()>);
        assert!(
            reply.status < 300,
            "GET {path}: {} {}",
            reply.status,
            reply.body
        );
        serde_json::from_value(reply.body).unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// POST and decode, asserting success.
    pub fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> T {
        let reply = self.call("POST", path, Some(body));
        assert!(
            reply.status < 300,
            "POST {path}: {} {}",
            reply.status,
            reply.body
        );
        serde_json::from_value(reply.body).unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// The node's status.
    pub fn status(&self) -> Status {
        self.get("/v1/status")
    }

    /// The node's status, asked on a new connection (as a new client would, not over the pooled
    /// connection the other calls reuse).
    pub fn status_on_new_connection(&self) -> Status {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .max_idle_connections(0)
            .build()
            .into();
        let mut response = agent
            .get(format!("{}/v1/status", self.api))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .unwrap_or_else(|e| panic!("GET /v1/status: {e}"));
        assert_eq!(response.status().as_u16(), 200, "GET /v1/status");
        response
            .body_mut()
            .read_json()
            .unwrap_or_else(|e| panic!("GET /v1/status: {e}"))
    }

    /// This node's author.
    pub fn author(&self) -> AuthorId {
        self.status().author
    }

    /// A dialable address of this node.
    pub fn addr(&self) -> String {
        self.status().listen_addrs[0].clone()
    }

    /// Connects to another node.
    pub fn connect(&self, other: &Node) {
        let reply = self.call(
            "POST",
            "/v1/connect",
            Some(&ConnectRequest { addr: other.addr() }),
        );
        assert_eq!(reply.status, 202, "connect: {}", reply.body);
        let peer = other.status().peer_id;
        wait_for("the connection", || {
            self.status().peers.contains(&peer).then_some(())
        });
    }

    /// Follows an author.
    pub fn follow(&self, author: AuthorId) -> Published {
        self.post("/v1/follows", &FollowRequest { author })
    }

    /// Publishes a plain post.
    pub fn post_text(&self, text: &str) -> EventId {
        self.publish(&PublishRequest::Post {
            text: text.into(),
            reply_to: None,
            quote: None,
            tags: Vec::new(),
            mentions: Vec::new(),
            self_labels: Vec::new(),
        })
    }

    /// Publishes anything.
    pub fn publish(&self, request: &PublishRequest) -> EventId {
        let published: Published = self.post("/v1/events", request);
        published.id
    }

    /// The stored event, if any.
    pub fn event(&self, id: &EventId) -> Option<FeedItem> {
        let reply = self.call("GET", &format!("/v1/events/{id}"), None::<&()>);
        match reply.status {
            200 => Some(serde_json::from_value(reply.body).expect("feed item")),
            404 => None,
            other => panic!("GET event: {other} {}", reply.body),
        }
    }

    /// Waits until the event is stored here.
    pub fn wait_for_event(&self, id: &EventId) -> FeedItem {
        wait_for(&format!("event {id} on {}", self.home.display()), || {
            self.event(id)
        })
    }

    /// How much of an author's log is held.
    pub fn log_of(&self, author: &AuthorId) -> (u64, u64) {
        let view: AuthorView = self.get(&format!("/v1/authors/{author}?limit=1"));
        (view.contiguous, view.highest)
    }

    /// Stops the daemon with SIGTERM and waits for it to exit cleanly.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let status = child.wait().expect("waiting for handbilld");
            assert!(status.success(), "handbilld exited with {status}");
        }
    }

    /// Kills the daemon with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the daemon again on the same home (after `stop` or `kill`).
    pub fn restart(&mut self, extra: Vec<String>) {
        self.kill();
        let mut args = self.args.clone();
        args.extend(extra);
        let fresh = Node::start_logging(
            self.home.clone(),
            args,
            self.netns.clone(),
            self.log.clone(),
        );
        *self = fresh;
    }

    /// The daemon's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The API's base URL and token, for tools that stream.
    pub fn api(&self) -> (String, String) {
        (self.api.clone(), self.token.clone())
    }

    /// The daemon's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.with_extension("log")).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}
