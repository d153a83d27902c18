//! Headless Chromium driven over W3C WebDriver (chromedriver), for the web console tests
//! (`tests/e2e_web.rs`, `tests/e2e_admin_web.rs`).
//!
//! [`Browser::start`] runs Debian's `chromedriver` on a free loopback port with a fresh
//! profile and opens one session; commands are plain JSON over HTTP/1.1 (W3C WebDriver §6),
//! which keeps the harness free of a TLS and HTTP client stack. Waiting is always for a DOM
//! condition ([`Browser::wait_js`], polled every 50 ms up to a bound), never a fixed sleep.

use super::*;

/// The W3C element reference key (WebDriver §12.1).
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// How to start Chromium beyond the defaults of [`Browser::start`].
#[derive(Debug, Clone, Default)]
pub struct BrowserOptions {
    /// Fake media for WebRTC (the browser phone, `tests/e2e_webphone.rs`): no permission
    /// prompt, a fake microphone that plays this WAV file (mono 16-bit PCM, e.g. from
    /// [`write_tone_wav`]) in a loop, peer connections allowed on loopback, audio playing
    /// without a user gesture.
    pub fake_audio: Option<PathBuf>,
}

/// Writes `seconds` of a `freq` Hz sine at `rate` Hz, mono 16-bit PCM, half full scale: the
/// fake microphone of a browser started with [`BrowserOptions::fake_audio`].
pub fn write_tone_wav(path: &Path, rate: u32, freq: f64, seconds: f64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    let n = (f64::from(rate) * seconds) as u32;
    for i in 0..n {
        let x = (2.0 * std::f64::consts::PI * freq * f64::from(i) / f64::from(rate)).sin();
        w.write_sample((x * 16_000.0) as i16).unwrap();
    }
    w.finalize()
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// One headless Chromium with its chromedriver; both end when dropped.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: TempDir,
    /// Files the browser reads while it runs (the fake microphone's WAV), removed with it.
    _media: Option<TempDir>,
}

impl Browser {
    /// Starts chromedriver and a Chromium session (English UI, 1366×768 window).
    pub fn start() -> Browser {
        Browser::start_with(BrowserOptions::default())
    }

    /// [`Browser::start`] with `options` (fake media for the browser phone).
    pub fn start_with(options: BrowserOptions) -> Browser {
        assert!(
            Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
            "{CHROMEDRIVER} and {CHROMIUM} are needed (Debian chromium, chromium-driver: \
             scripts/install-test-deps.sh installs them)"
        );
        let port = free_sip_port();
        let profile = TempDir::new("chromium");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            _profile: profile,
            _media: None,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(v) = browser.request("GET", "/status", None)
                && v["value"]["ready"] == true
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver not ready after 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--lang=en-US",
            "--window-size=1366,768",
        ]
        .map(String::from)
        .to_vec();
        args.push(format!(
            "--user-data-dir={}",
            browser._profile.path().display()
        ));
        if let Some(wav) = &options.fake_audio {
            args.extend(
                [
                    "--use-fake-ui-for-media-stream",
                    "--use-fake-device-for-media-stream",
                    "--allow-loopback-in-peer-connection",
                    "--autoplay-policy=no-user-gesture-required",
                ]
                .map(String::from),
            );
            args.push(format!(
                "--use-file-for-fake-audio-capture={}",
                wav.display()
            ));
        }
        let caps = serde_json::json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args,
                "prefs": {"intl.accept_languages": "en-US,en"}},
        }}});
        let v = browser
            .request("POST", "/session", Some(caps))
            .expect("new WebDriver session");
        browser.session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id: {v}"))
            .to_string();
        browser
    }

    /// Chromium for the browser phone: fake media, its microphone a `mic_hz` sine (a 48 kHz
    /// WAV played in a loop). [`Browser::sign_in_phone`] then signs an agent in.
    pub fn start_phone(mic_hz: f64) -> Browser {
        let media = TempDir::new("fake-mic");
        let wav = media.path().join(format!("mic-{mic_hz}hz.wav"));
        write_tone_wav(&wav, 48_000, mic_hz, 2.0);
        let mut browser = Browser::start_with(BrowserOptions {
            fake_audio: Some(wav),
        });
        browser._media = Some(media);
        browser
    }

    /// Signs `login` in to the desktop through the login form and waits until the page's
    /// browser phone says registered (`window.centralinoPhone.state()`).
    pub fn sign_in_phone(&self, server: &Server, login: &str, password: &str) {
        self.login(server, "/desktop", login, password, "/desktop");
        self.wait_js(
            &format!("{login}'s browser phone registered"),
            "return window.centralinoPhone && window.centralinoPhone.state().registered",
            Duration::from_secs(15),
        );
    }

    /// An agent signed in to a phone-enabled desktop, its browser phone registered over `/ws`
    /// ([`Browser::start_phone`] + [`Browser::sign_in_phone`]): for the browser phone's
    /// tests (`tests/e2e_webphone.rs`), calls included.
    pub fn phone_desktop(server: &Server, login: &str, password: &str, mic_hz: f64) -> Browser {
        let browser = Browser::start_phone(mic_hz);
        browser.sign_in_phone(server, login, password);
        browser
    }

    /// The browser phone's state (`window.centralinoPhone.state()`: registered, inCall,
    /// muted, held, callId, …).
    pub fn phone_state(&self) -> serde_json::Value {
        self.eval("return window.centralinoPhone ? window.centralinoPhone.state() : null")
    }

    /// One WebDriver request: the answer's JSON, or an error with the driver's message.
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, String> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut stream =
            TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        // chromedriver may keep the connection open: read exactly one response.
        let raw = read_response(&mut stream)?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        let v: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        if head.starts_with("HTTP/1.1 200") {
            Ok(v)
        } else {
            Err(format!("{method} {path}: {}", v["value"]))
        }
    }

    fn command(&self, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
        let path = format!("/session/{}{path}", self.session);
        let body = (method == "POST").then_some(body);
        self.request(method, &path, body)
            .unwrap_or_else(|e| panic!("WebDriver: {e}"))["value"]
            .clone()
    }

    /// Opens `path` on `server`'s web port.
    pub fn goto(&self, server: &Server, path: &str) {
        let url = format!("http://127.0.0.1:{}{path}", server.http_port);
        self.command("POST", "/url", serde_json::json!({"url": url}));
    }

    /// Runs `script` (a function body; `return` its value) in the page.
    pub fn eval(&self, script: &str) -> serde_json::Value {
        self.command(
            "POST",
            "/execute/sync",
            serde_json::json!({"script": script, "args": []}),
        )
    }

    /// Runs an async `script` whose last argument is the callback to call with the result.
    pub fn eval_async(&self, script: &str) -> serde_json::Value {
        self.command(
            "POST",
            "/execute/async",
            serde_json::json!({"script": script, "args": []}),
        )
    }

    /// Polls `script` (returning null/false until the condition holds) every 50 ms; its first
    /// truthy value, or a panic naming `what` and `describe`'s output after `timeout`.
    pub fn wait_js(&self, what: &str, script: &str, timeout: Duration) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self
                .request(
                    "POST",
                    &format!("/session/{}/execute/sync", self.session),
                    Some(serde_json::json!({"script": script, "args": []})),
                )
                .map(|v| v["value"].clone())
                .unwrap_or(serde_json::Value::Null);
            if !(v.is_null() || v == false) {
                return v;
            }
            if Instant::now() > deadline {
                let page = self.eval("return document.body ? document.body.innerText : ''");
                panic!("waited {timeout:?} for {what}; the page shows:\n{page}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn element(&self, css: &str) -> String {
        self.element_by("css selector", css)
    }

    /// The element found by a W3C locator strategy (WebDriver §12.2: css selector, xpath, …).
    fn element_by(&self, using: &str, value: &str) -> String {
        let v = self.command(
            "POST",
            "/element",
            serde_json::json!({"using": using, "value": value}),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {using} {value}: {v}"))
            .to_string()
    }

    /// Clicks the button whose visible text is `text` (a real pointer click, found as an
    /// operator finds it: by its label).
    pub fn click_button(&self, text: &str) {
        let id = self.element_by("xpath", &format!("//button[normalize-space()='{text}']"));
        self.command(
            "POST",
            &format!("/element/{id}/click"),
            serde_json::json!({}),
        );
    }

    /// Clicks the element `css` (WebDriver §14.1: a real pointer click).
    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.command(
            "POST",
            &format!("/element/{id}/click"),
            serde_json::json!({}),
        );
    }

    /// Types `text` into the element `css` (WebDriver §14.3: real key events).
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.command(
            "POST",
            &format!("/element/{id}/value"),
            serde_json::json!({"text": text}),
        );
    }

    /// Presses `keys` one after the other on whatever has the focus (WebDriver §17.5 key
    /// actions): text, and `\u{E004}` Tab, `\u{E007}` Enter and the other WebDriver keys, as a
    /// keyboard-only user would.
    pub fn press_keys(&self, keys: &str) {
        let mut actions = Vec::new();
        for c in keys.chars() {
            actions.push(serde_json::json!({"type": "keyDown", "value": c.to_string()}));
            actions.push(serde_json::json!({"type": "keyUp", "value": c.to_string()}));
        }
        self.command(
            "POST",
            "/actions",
            serde_json::json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}),
        );
    }

    /// Empties the field `css` (WebDriver §14.2), e.g. a number input before typing a new value.
    pub fn clear(&self, css: &str) {
        let id = self.element(css);
        self.command(
            "POST",
            &format!("/element/{id}/clear"),
            serde_json::json!({}),
        );
    }

    /// Saves a PNG of the viewport (WebDriver §19.1) as `name`.png in [`artifacts_dir`]`/test`
    /// and returns its path: the pages as an operator sees them, kept after the run to be
    /// looked at.
    pub fn screenshot(&self, test: &str, name: &str) -> PathBuf {
        use base64::Engine as _;
        let encoded = self.command("GET", "/screenshot", serde_json::Value::Null);
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("screenshot {name}: not base64 ({e})"));
        assert!(png.starts_with(b"\x89PNG"), "screenshot {name}: not a PNG");
        let dir = artifacts_dir().join(test);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        eprintln!("e2e_web: screenshot {}", path.display());
        path
    }

    /// Runs a Chrome DevTools Protocol command through chromedriver's `goog/cdp/execute`
    /// extension, e.g. `Emulation.setEmulatedMedia` with `{"media": "print"}` to lay the page
    /// out as the browser prints it.
    pub fn cdp(&self, cmd: &str, params: serde_json::Value) -> serde_json::Value {
        self.command(
            "POST",
            "/goog/cdp/execute",
            serde_json::json!({"cmd": cmd, "params": params}),
        )
    }

    /// The page's path.
    pub fn path(&self) -> String {
        self.eval("return window.location.pathname")
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Logs in through the login form as `login`, then waits for `landing` and a live stream.
    pub fn login(&self, server: &Server, start: &str, login: &str, password: &str, landing: &str) {
        self.goto(server, start);
        self.wait_js(
            "the login form",
            "return location.pathname === '/' && document.activeElement \
             && document.activeElement.id === 'login'",
            Duration::from_secs(10),
        );
        self.type_into("#login", login);
        self.type_into("#password", password);
        self.click("#sign-in");
        // Consoles are ready with a live event stream; pages without one (the announcements)
        // say `data-ready` once their data is shown.
        self.wait_js(
            &format!("{landing} with a live event stream"),
            &format!(
                "return location.pathname === '{landing}' && (document.body.dataset.live === 'true' \
                 || document.body.dataset.ready === 'true')"
            ),
            Duration::from_secs(15),
        );
    }
}

/// Where tests leave artifacts (screenshots): `$CENTRALINO_ARTIFACTS` when set, otherwise
/// `target/test-artifacts` of the workspace, a stable place that survives the run.
pub fn artifacts_dir() -> PathBuf {
    match std::env::var_os("CENTRALINO_ARTIFACTS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        // The manifest is crates/centralino: the workspace is two levels up.
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .unwrap_or(Path::new("."))
            .join("target/test-artifacts"),
    }
}

/// One HTTP/1.1 response: up to its `Content-Length`, the end of its chunks, or EOF.
fn read_response(stream: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let head = head.to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        match length {
            Some(len) if body.len() >= len => return Ok(raw),
            None if head.contains("transfer-encoding: chunked") && body.ends_with("0\r\n\r\n") => {
                return Ok(raw);
            }
            _ => {}
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.request("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
