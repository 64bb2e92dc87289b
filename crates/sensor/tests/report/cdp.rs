//! A small Chrome DevTools Protocol client for the report's browser test:
//! starts Debian's headless chromium with nothing that reaches the network,
//! speaks to it over its loopback DevTools socket, and keeps every event so
//! the test can look for console errors, exceptions, dialogs and requests.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// The flags that keep a headless chromium to itself: no sandbox (CI is
/// root), no GPU, no QUIC, and none of the background services that would
/// reach out (component updates, sync, safe-browsing lists, first-run).
pub const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
];

pub struct Browser {
    child: Child,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next: u64,
    session: String,
    /// Every event received, in order: `{"method": …, "params": …}`.
    pub events: Vec<Value>,
    stderr: Arc<Mutex<String>>,
}

/// Which chromium to run: `$CHROMIUM`, else Debian's.
pub fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into())
}

impl Browser {
    /// Starts chromium with a fresh profile in `profile` and opens one page.
    pub fn launch(profile: &Path) -> Result<Browser, String> {
        let mut child = Command::new(chromium())
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--remote-debugging-address=127.0.0.1")
            .arg("--remote-debugging-port=0")
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {} ({e}); scripts/deps.sh test installs it",
                    chromium()
                )
            })?;
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let pipe = child.stderr.take().ok_or("no stderr")?;
        let log = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
                if let Ok(mut l) = log.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(u) => u,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "chromium did not open its DevTools socket:\n{}",
                    stderr.lock().map(|s| s.clone()).unwrap_or_default()
                ));
            }
        };
        let (mut ws, _) =
            tungstenite::connect(url.as_str()).map_err(|e| format!("DevTools {url}: {e}"))?;
        if let MaybeTlsStream::Plain(s) = ws.get_mut() {
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        }
        let mut b = Browser {
            child,
            ws,
            next: 0,
            session: String::new(),
            events: Vec::new(),
            stderr,
        };
        let target = b.call_browser("Target.createTarget", json!({"url": "about:blank"}))?;
        let id = target["targetId"].as_str().ok_or("no targetId")?.to_owned();
        let attached = b.call_browser(
            "Target.attachToTarget",
            json!({"targetId": id, "flatten": true}),
        )?;
        b.session = attached["sessionId"]
            .as_str()
            .ok_or("no sessionId")?
            .to_owned();
        for domain in [
            "Page.enable",
            "Runtime.enable",
            "Log.enable",
            "Network.enable",
        ] {
            b.call(domain, json!({}))?;
        }
        Ok(b)
    }

    fn call_browser(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.send(method, params, None)
    }

    /// Calls `method` on the page and returns its result.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let s = self.session.clone();
        self.send(method, params, Some(s))
    }

    fn send(
        &mut self,
        method: &str,
        params: Value,
        session: Option<String>,
    ) -> Result<Value, String> {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = Value::String(s);
        }
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .map_err(|e| format!("{method}: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self
                .read(deadline)
                .ok_or_else(|| format!("{method}: no answer in 60 s"))?;
            if v["id"] == id {
                if let Some(e) = v.get("error") {
                    return Err(format!("{method}: {e}"));
                }
                return Ok(v["result"].clone());
            }
        }
    }

    /// The next message before `deadline`; events are kept in [`Browser::events`].
    fn read(&mut self, deadline: Instant) -> Option<Value> {
        while Instant::now() < deadline {
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(t.as_str()).ok()?;
                    if v.get("method").is_some() {
                        self.events.push(v.clone());
                    }
                    return Some(v);
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return None,
            }
        }
        None
    }

    /// Waits for an event named `method` (already received ones count).
    pub fn wait_for(&mut self, method: &str, since: usize) -> Result<Value, String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(e) = self.events[since.min(self.events.len())..]
                .iter()
                .find(|e| e["method"] == method)
            {
                return Ok(e.clone());
            }
            if self.read(deadline).is_none() && Instant::now() >= deadline {
                return Err(format!("no {method} within 60 s"));
            }
        }
    }

    /// Opens `url` and waits until it has loaded.
    pub fn open(&mut self, url: &str) -> Result<(), String> {
        let since = self.events.len();
        self.call("Page.navigate", json!({"url": url}))?;
        self.wait_for("Page.loadEventFired", since)?;
        Ok(())
    }

    /// Evaluates `expr` in the page and returns its value.
    pub fn eval(&mut self, expr: &str) -> Result<Value, String> {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        )?;
        if let Some(e) = r.get("exceptionDetails") {
            return Err(format!("{expr}: {e}"));
        }
        Ok(r["result"]["value"].clone())
    }

    /// The page as a PNG, `width` CSS pixels wide and `height` high (the
    /// whole page, up to 14,000 pixels, without).
    pub fn screenshot(&mut self, width: u32, height: Option<u64>) -> Result<Vec<u8>, String> {
        let h = self
            .eval("document.documentElement.scrollHeight")?
            .as_u64()
            .unwrap_or(1000);
        let height = height.unwrap_or(h).clamp(200, 14_000);
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        )?;
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}))?;
        decode(&r["data"])
    }

    /// The page printed to A4 as the print stylesheet lays it out.
    pub fn pdf(&mut self) -> Result<Vec<u8>, String> {
        let r = self.call(
            "Page.printToPDF",
            json!({"paperWidth": 8.27, "paperHeight": 11.69, "printBackground": true,
                   "marginTop": 0, "marginBottom": 0, "marginLeft": 0, "marginRight": 0}),
        )?;
        decode(&r["data"])
    }

    /// Console errors, uncaught exceptions, failed loads and dialogs seen
    /// since event `since`.
    pub fn problems(&self, since: usize) -> Vec<String> {
        let mut out = Vec::new();
        for e in &self.events[since.min(self.events.len())..] {
            let p = &e["params"];
            match e["method"].as_str().unwrap_or("") {
                "Runtime.exceptionThrown" => {
                    out.push(format!("exception: {}", p["exceptionDetails"]))
                }
                "Runtime.consoleAPICalled"
                    if matches!(p["type"].as_str(), Some("error" | "assert" | "warning")) =>
                {
                    out.push(format!("console.{}: {}", p["type"], p["args"]))
                }
                "Log.entryAdded"
                    if matches!(p["entry"]["level"].as_str(), Some("error" | "warning")) =>
                {
                    out.push(format!("log: {}", p["entry"]))
                }
                "Network.loadingFailed" => out.push(format!("load failed: {p}")),
                "Page.javascriptDialogOpening" => out.push(format!("dialog: {}", p["message"])),
                _ => {}
            }
        }
        out
    }

    /// What chromium wrote on stderr, for a failure message.
    pub fn log(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// URLs the page asked for since event `since`.
    pub fn requests(&self, since: usize) -> Vec<String> {
        self.events[since.min(self.events.len())..]
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .filter_map(|e| e["params"]["request"]["url"].as_str().map(str::to_owned))
            .collect()
    }
}

fn decode(v: &Value) -> Result<Vec<u8>, String> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().ok_or("no data")?)
        .map_err(|e| e.to_string())
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.call_browser("Browser.close", json!({}));
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Still there: this test started it, so this test ends it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
