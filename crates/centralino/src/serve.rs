//! `centralino serve`: the contact center's start, its run until a signal, and its orderly
//! stop. Each step is a function: the site (configuration, database, demo data, people and
//! queues), the media engine on its own runtime, the call side (gateway, ACD, switchboard,
//! voicemail, the event log's writer), the HTTP side; then signals (SIGHUP reloads) and the
//! shutdown that ends calls, drains HTTP and flushes every write.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use media::{MediaEngine, PromptLibrary};
use sip_gateway::gateway::Gateway;
use switchboard::{AcdHandle, CardWriter, Engines, EventBus, Switchboard};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::{exposure, health, load_config, open_store, prompts, recovery, site};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Configuration file (TOML).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data directory (database, recordings, uploaded prompts).
    #[arg(long, default_value = "./data")]
    pub data: PathBuf,
    /// SIP address, UDP and TCP (default from the configuration: 127.0.0.1:5060).
    #[arg(long)]
    pub sip_listen: Option<SocketAddr>,
    /// HTTP address (default from the configuration: 127.0.0.1:8080).
    #[arg(long)]
    pub http_listen: Option<SocketAddr>,
    /// Serve the demo accounts (published passwords) even on a non-loopback address; a
    /// warning is logged. Without it, `serve` refuses.
    #[arg(long)]
    pub force_demo: bool,
}

/// Runs the contact center until SIGINT/SIGTERM.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = load_config(args.config.as_deref())?;
    if let Some(sip) = args.sip_listen {
        config.sip.listen = sip;
    }
    if let Some(http) = args.http_listen {
        config.http.listen = http;
    }
    exposure::refuse_public_demo(&config, args.force_demo)?;
    raise_open_files_limit();
    let (store, site_now) = open_site(&config, &args).await?;
    let (prompts, prompts_dir, uploaded_dir) = load_prompts(&config, &args.data).await?;
    // Loaded before anything starts: a certificate that does not load stops the start here.
    let tls = match config.http.tls() {
        Some((cert, key)) => Some(tls_config(cert, key).await?),
        None => None,
    };
    let (media_runtime, media) = start_media(&config)?;

    let credentials = site::credentials(&store).await?;
    let mut gateway_config = config.sip.gateway(&config.registrar, credentials);
    // Browsers' SIP WebSockets are `wss` when the web side is HTTPS (here or at a proxy).
    gateway_config.ua.ws.secure = config.http.https();
    let (gateway, gateway_events) = Gateway::start(gateway_config)
        .await
        .with_context(|| format!("cannot listen for SIP on {}", config.sip.listen))?;

    for number in &config.numbers {
        info!(
            number = %number.number,
            name = number.name.as_deref().unwrap_or(""),
            "number configured"
        );
    }
    // One bus; its recorded side feeds the one writer of the event log, which also derives
    // the queue log, the console's figures and the event metrics (console::record).
    // Bounded in memory by `events.memory_limit`; past it events wait in a spill file.
    let (bus, event_log) = EventBus::recorded_with(
        events::DEFAULT_CAPACITY,
        Arc::new(chrono::Utc::now),
        events::RecordLimits {
            memory: config.events.memory_limit,
            spill: args.data.join("events.spill"),
        },
    )
    .context("the event log's spill file")?;
    let tree =
        switchboard::reload::build_ivr(&config.ivr_config(), &prompts).map_err(|problems| {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            anyhow::anyhow!("invalid IVR tree:\n{}", text.join("\n"))
        })?;
    // One journal for every write a call makes (the voicemail hand-offs included) and for the
    // event log, so an outage keeps their order.
    let journal = Arc::new(
        crm::JournaledStore::new(store.clone(), args.data.join("journal").join("calls.jsonl"))
            .with_queue_limit(config.database.queued_writes_max),
    );
    // Before any call: what a crash left open (journal, call records, agents) is closed.
    let recovered = recovery::recover(&journal).await;
    let card = CardWriter::spawn(journal.clone()).context("cannot open the call writes' queue")?;
    let sb_config = config.switchboard(&args.data);
    let voicemail = voicemail::Voicemail::new(sb_config.voicemail.clone(), journal.clone());
    // Before any call: messages a crash interrupted or left unfiled become tickets.
    voicemail.recover().await;
    voicemail.spawn_maintenance();
    let metrics = Arc::new(console::Metrics::new());
    let figures = console::Figures::new(metrics.clone(), console::figures::local_day());
    let event_writer = console::EventLogWriter::start(
        bus.clone(),
        event_log,
        journal,
        figures.clone(),
        chrono::Utc::now(),
    )
    .await;
    bus.publish(events::Event::SystemStarted {
        version: env!("CARGO_PKG_VERSION").to_string(),
        at: chrono::Utc::now(),
    });
    recovery::announce(&bus, &recovered, chrono::Utc::now());
    // The ACD with blended routing's items (R-ACD-5, [acd.blend]).
    let acd = AcdHandle::spawn_blend(
        acd::Blend::new(
            acd::Acd::new(
                site::acd_config(&site_now, config.acd.ring_timeout_s, config.acd.wrap_up_s),
                std::time::Instant::now(),
            )
            .context("invalid ACD configuration")?,
            config.acd.blend.config(),
        ),
        bus.clone(),
    );
    let switchboard = Switchboard::new(
        gateway.clone(),
        media,
        Arc::new(prompts),
        bus.clone(),
        sb_config,
        Engines {
            ivr: tree,
            acd: Some(acd.clone()),
            store: Some(store.clone()),
            card: Some(card.clone()),
            voicemail: Some(voicemail),
        },
    )
    .with_pin_limits(config.call.pin_limits());
    crm::spawn_escalation_sweep(
        store.clone(),
        bus.clone(),
        chrono::Duration::minutes(config.sla.warn_min as i64),
        Duration::from_secs(config.sla.sweep_s),
    );
    // Report facts folded in the background, so a report finds little left to fold (issue 15).
    let materializer = config
        .reports
        .materialize_every()
        .map(|every| console::report_facts::Materializer::spawn(store.clone(), every));
    let applier = Arc::new(site::SiteApplier::new(
        store.clone(),
        acd.clone(),
        gateway.clone(),
        switchboard.phone_book(),
        &config,
    ));
    applier
        .apply()
        .await
        .context("cannot apply the site's people and queues")?;
    applier.clone().spawn_watch(&bus);
    // Items from the CRM's open written tickets, once the ACD has the site's queues.
    switchboard::items::spawn_feeder(
        store.clone(),
        &bus,
        acd.clone(),
        Duration::from_secs(config.acd.blend.rescan_s),
    );
    let reloader = Reloader {
        switchboard: switchboard::Reload {
            ivr: switchboard.ivr_reloader(),
            uploaded: uploaded_dir.clone(),
        },
        site: applier.clone(),
        store: store.clone(),
    };
    // Operators' sign-in against the administration's directory ([directory]); its service
    // password is read now, so a missing file stops the start with the field's name.
    let directory = match &config.directory {
        Some(section) => {
            let settings = section
                .settings()
                .map_err(|problem| anyhow::anyhow!("{problem}"))?;
            tracing::info!(url = %settings.url, groups = settings.mapping.len(), "directory sign-in");
            Some(directory::Directory::new(settings))
        }
        None => None,
    };
    // E-mail ([mail]): one fetcher per mailbox and the outbox sender; they end with the
    // process (a mail half-sent is resent at most once at the next start: mail::outbox).
    // The desk's sweep sends confirmations, pending reminders and closure mails on its own;
    // the desk itself serves the operators' replies (console::api::mail_desk).
    let (_mail_tasks, mail_desk) = config
        .mail
        .spawn_desk(
            store.clone(),
            Arc::new({
                let bus = bus.clone();
                move |due: mail::desk::ReminderDue| {
                    bus.publish(events::Event::TicketReminder {
                        number: due.context.number.clone(),
                        queue: due.context.queue.clone(),
                        owner: due.context.owner.clone(),
                        due: due.context.pending_until.unwrap_or_else(chrono::Utc::now),
                    });
                    info!(
                        ticket = %due.context.number,
                        queue = %due.context.queue,
                        owner = ?due.ticket.owner,
                        mailed = due.mailed,
                        "pending reminder due"
                    );
                }
            }),
            // Each message filed is published (blended routing offers it at once; the
            // agents who follow its queue are notified).
            Some(mail::ingest::OnFiled(Arc::new({
                let bus = bus.clone();
                let store = store.clone();
                move |filed: &crm::MailFiled| {
                    let (bus, store, filed) = (bus.clone(), store.clone(), filed.clone());
                    tokio::spawn(async move {
                        if let Err(error) =
                            console::api::ticket_events::mail_filed(&store, &bus, &filed).await
                        {
                            tracing::warn!(%error, ticket = %filed.number, "e-mail filed: event not published");
                        }
                    });
                }
            }))),
        )
        .map_err(|problem| anyhow::anyhow!("{problem}"))?;
    // Agents' notifications (R-SR-9): the ticket events of the event log told to the
    // operators who opted in, on the desktop and, with mail configured, by e-mail.
    let _notifier = console::notify::Notifier {
        store: store.clone(),
        bus: bus.clone(),
        mail: mail_desk.as_ref().map(|desk| console::notify::NotifyMail {
            from: desk.from.clone(),
            message_id_domain: desk.message_id_domain.clone(),
            lang: desk.lang.as_str().to_string(),
            desktop_url: config.mail.desktop_url.clone(),
            wake: desk.wake.clone(),
        }),
    }
    .spawn(event_writer.clone());
    // Report sets e-mailed on a schedule ([[reports.mail]]): checked every minute, each
    // period queued once in the outbox (console::report_mail).
    let report_calendar = config
        .sla
        .calendar
        .as_ref()
        .and_then(|c| calendar::BusinessCalendar::new(c).ok())
        .map(std::sync::Arc::new);
    let mail_from = match (&config.mail.from, &config.mail.smtp) {
        (Some(from), Some(_)) => Some(console::api::reports::MailFrom {
            from: from.clone(),
            message_id_domain: config.mail.message_id_domain.clone().unwrap_or_else(|| {
                from.rsplit('@')
                    .next()
                    .map(|d| d.trim_end_matches('>').to_string())
                    .unwrap_or_else(|| "centralino.invalid".into())
            }),
        }),
        _ => None,
    };
    let reports_config = console::api::reports::ReportsConfig {
        section: config.reports.clone(),
        // Validated with the file: a calendar that does not build was refused.
        calendar: report_calendar,
        mail_from: mail_from.clone(),
    };
    let _report_mail = match (&mail_from, config.reports.mail.is_empty()) {
        (Some(from), false) => Some(
            console::report_mail::ReportMailer {
                store: store.clone(),
                config: reports_config.clone(),
                from: from.from.clone(),
                message_id_domain: from.message_id_domain.clone(),
            }
            .spawn(
                Duration::from_secs(60),
                std::sync::Arc::new(chrono::Utc::now),
                // The outbox sender is told at once (not at its next round).
                mail_desk.as_ref().and_then(|d| d.wake.clone()),
            ),
        ),
        _ => None,
    };
    let telemetry = switchboard.telemetry();
    let browser_phones = switchboard.browser_phones();
    let reload_hook = args.config.clone().map(|path| {
        let reloader = reloader.clone();
        let runtime = tokio::runtime::Handle::current();
        // The hook runs on a blocking thread (console's reload route).
        console::api::ReloadHook(Arc::new(move || runtime.block_on(reload(&path, &reloader))))
    });
    let app = console::router_with(
        console::AppState {
            metrics,
            telemetry: Arc::new(telemetry.clone()),
            metrics_public: config.http.metrics_public,
            store: store.clone(),
            acd: Some(Arc::new(acd.clone())),
            bus: Some(bus.clone()),
            wrap_up: Some(config.acd_config().wrap_up()),
        },
        console::api::ApiConfig {
            reload: reload_hook,
            // Over HTTPS (served here or by a proxy): Secure cookies and HSTS.
            cookie_secure: config.http.https(),
            prompts: Some(prompts::admin(
                &config,
                args.config.clone(),
                prompts_dir.clone(),
                uploaded_dir.clone(),
                reloader.switchboard.ivr.clone(),
            )),
            figures,
            bus: Some(bus.clone()),
            signin: console::api::session::SignIn::new(config.http.login.signin(directory)),
            session_idle: config.http.session_lifetimes().0,
            session_max_age: config.http.session_lifetimes().1,
            reports: reports_config,
            // The citizen's web form, its clocks on the service's calendar (SLA.O).
            web_form: config.web_form.enabled.then(|| {
                config.web_form.form(
                    config
                        .sla
                        .calendar
                        .as_ref()
                        .and_then(|c| calendar::BusinessCalendar::new(c).ok())
                        .map(std::sync::Arc::new),
                )
            }),
            mail: mail_desk,
            browser_phones: Some(Arc::new(BrowserPhoneFigures(browser_phones))),
            ..console::api::ApiConfig::default()
        },
    )
    // SIP over WebSocket for browsers' phones (issue 17), fed to the same gateway.
    .merge(console::sip_ws::router(gateway.ws_port()));
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("cannot listen for HTTP on {}", config.http.listen))?;
    let http_addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (http_stop_tx, http_stop_rx) = watch::channel(false);
    let http = tokio::spawn(console::server::serve(
        listener,
        app,
        tls.map(|t| t.get_inner()),
        config.http.limits(),
        http_stop_rx,
    ));
    let calls_running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let calls = tokio::spawn({
        let running = calls_running.clone();
        async move {
            switchboard.run(gateway_events, shutdown_rx).await;
            running.store(false, std::sync::atomic::Ordering::Relaxed);
        }
    });
    // The components' probes and the heartbeat (issue 15), until the stop.
    let probes = health::spawn(
        health::Probes {
            acd: acd.clone(),
            http: http_addr,
            https: scheme == "https",
            telemetry,
            calls_alive: Arc::new(move || calls_running.load(std::sync::atomic::Ordering::Relaxed)),
        },
        bus.clone(),
        &config.availability,
    );

    info!(
        sip = %gateway.local_addr(),
        http = %http_addr,
        %scheme,
        data = %args.data.display(),
        "centralino ready"
    );

    loop {
        match wait_for_signal().await {
            Signal::Stop => break,
            Signal::Reload => match &args.config {
                Some(path) => {
                    let _ = reload(path, &reloader).await;
                }
                None => info!("SIGHUP: the built-in demo configuration does not change"),
            },
        }
    }
    info!("stopping: no new calls, ending calls in progress");
    probes.abort();
    if let Some(materializer) = materializer {
        materializer.stop().await;
    }
    bus.publish(events::Event::SystemStopping {
        at: chrono::Utc::now(),
    });
    let _ = shutdown_tx.send(true);
    // The switchboard returns once every call has ended (BYE answered or timed out).
    if tokio::time::timeout(Duration::from_secs(10), calls)
        .await
        .is_err()
    {
        warn!("calls still up after 10 s: exiting anyway");
    }
    // The calls have told the ACD how they ended (a queued call as interrupted, never
    // abandoned); now every signed-in agent is logged out in the event log, so the log is
    // complete without a restart and the next start's recovery finds nobody to log out.
    if tokio::time::timeout(Duration::from_secs(2), acd.log_out_all("shutdown"))
        .await
        .is_err()
    {
        warn!("the ACD did not log the agents out within 2 s: the next start will");
    }
    let _ = http_stop_tx.send(true);
    match tokio::time::timeout(Duration::from_secs(5), http).await {
        Ok(Ok(Err(error))) => warn!(%error, "HTTP server error at shutdown"),
        Err(_) => warn!("HTTP server still draining after 5 s"),
        _ => {}
    }
    // Every event published so far in the log (or its journal), every call write too.
    if tokio::time::timeout(Duration::from_secs(5), event_writer.flush())
        .await
        .is_err()
    {
        warn!("event log writer still busy after 5 s: the journal keeps what it had");
    }
    card.flush().await;
    store.close().await;
    drop(media_runtime);
    info!("stopped");
    Ok(())
}

/// The database with what the site needs before calls: the demo data (when asked), the
/// escalation targets, the file's queues and agents provisioned; the people and queues in
/// force. Warns of IVR routes to queues that take no calls.
/// Raises the soft limit on open descriptors to the hard one: every SIP TCP connection and
/// every RTP port takes one, and a default soft limit of 1024 is reached long before the
/// machine's capacity. Logged, so an operator sees what the process got.
fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => {
            let hard = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(soft, |(_, hard)| hard);
            info!(soft, hard, "open files limit");
        }
        Err(error) => warn!(%error, "cannot raise the open files limit"),
    }
}

async fn open_site(config: &Config, args: &ServeArgs) -> anyhow::Result<(crm::Store, crm::Site)> {
    let store = open_store(config, &args.data).await?;
    exposure::refuse_demo_accounts(config, &store, args.force_demo).await?;
    let commits = store.commit_mode().await.unwrap_or_default();
    info!(backend = ?store.backend(), %commits, "database ready");
    if config.database.demo_data {
        let report = crm_fixtures::demo::load_demo_data(
            &store,
            &crm_fixtures::demo::DemoOptions::new(chrono::Utc::now()),
        )
        .await
        .context("cannot load the demo data")?;
        if report.changed() {
            info!(?report, "demo data loaded");
        }
    }
    config
        .sla
        .apply(&store)
        .await
        .context("cannot apply the escalation targets of [sla.queues]")?;
    for warning in &config.warnings {
        warn!("configuration: {warning}");
    }
    // People and queues are the database's; the file's lists only fill in what it lacks.
    for line in site::provision(&store, config)
        .await
        .context("cannot create the file's queues and agents in the database")?
    {
        info!("site: {line}");
    }
    let site_now = store.site().await.context("cannot read the site")?;
    for queue in site::missing_routes(&config.ivr_config(), &site_now) {
        warn!(%queue, "the IVR routes to a queue that takes no calls: create it (centralino queue add) or its callers hear the closing message");
    }

    Ok((store, site_now))
}

/// The shipped prompts and, over them, those administrators uploaded (api/prompts.rs), read
/// and resampled off the async workers; with both folders.
async fn load_prompts(
    config: &Config,
    data: &std::path::Path,
) -> anyhow::Result<(PromptLibrary, PathBuf, PathBuf)> {
    let prompts_dir = config.prompts.dir();
    let uploaded_dir = data.join("prompts");
    let prompts = tokio::task::spawn_blocking({
        let (dir, uploaded) = (prompts_dir.clone(), uploaded_dir.clone());
        move || PromptLibrary::load_layers(&[&dir, &uploaded])
    })
    .await?
    .with_context(|| {
        format!(
            "cannot load prompts from {} and {}",
            prompts_dir.display(),
            uploaded_dir.display()
        )
    })?;
    info!(dir = %prompts_dir.display(), uploaded = %uploaded_dir.display(),
        languages = ?prompts.languages(), "prompts loaded");

    Ok((prompts, prompts_dir, uploaded_dir))
}

/// The media engine on a runtime of its own.
fn start_media(config: &Config) -> anyhow::Result<(MediaRuntime, MediaEngine)> {
    let shards = config.media.shard_count();
    // The media shards get a runtime of their own, one worker each: a tick serving a thousand
    // legs must never wait behind signalling, HTTP or call tasks (DESIGN.md: media is the hot
    // path). Their sockets are plain non-blocking ones, so other runtimes may hand them legs.
    let priority = config.media.priority;
    let media_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(shards)
        .thread_name("centralino-media")
        .on_thread_start(move || match priority.apply_to_current_thread() {
            Ok(()) => {}
            // The default asks where it may: a process without the right stays as it is.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => info!(
                "media threads keep normal priority: raising it needs CAP_SYS_NICE \
                 (systemd: LimitNICE=-10) or media.priority = \"normal\""
            ),
            Err(e) => warn!(%priority, "cannot raise the media threads' priority: {e}"),
        })
        .enable_time()
        .build()
        .context("cannot start the media runtime")?;
    let media_runtime = MediaRuntime(Some(media_runtime));
    let media = {
        let _runtime = media_runtime.0.as_ref().map(|r| r.enter());
        MediaEngine::start(config.media.engine(config.sip.listen.ip()))
            .context("cannot start the media engine")?
    };
    Ok((media_runtime, media))
}

/// The media shards' runtime, shut down without waiting when dropped: from the async
/// context `serve` runs in, a plain drop would panic (a start that fails after the media
/// engine, on a SIP port in use say, must end with its error, not a panic).
struct MediaRuntime(Option<tokio::runtime::Runtime>);

impl Drop for MediaRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The HTTPS settings from the certificate chain and key files (PEM), with rustls's ring
/// provider; a clear error naming the file when they do not load.
async fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<axum_server::tls_rustls::RustlsConfig> {
    // One provider for the process (another crate may compile a second one in).
    let _ = rustls::crypto::ring::default_provider().install_default();
    axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
        .await
        .with_context(|| {
            format!(
                "http.tls_cert / http.tls_key: cannot load {} and {} as a PEM certificate chain and private key",
                cert.display(),
                key.display()
            )
        })
}

/// What a signal asks.
enum Signal {
    /// SIGINT/SIGTERM: stop.
    Stop,
    /// SIGHUP: reload the configuration's IVR tree and ACD.
    Reload,
}

async fn wait_for_signal() -> Signal {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(mut term), Ok(mut hup)) => {
                tokio::select! {
                    _ = ctrl_c => Signal::Stop,
                    _ = term.recv() => Signal::Stop,
                    _ = hup.recv() => Signal::Reload,
                }
            }
            _ => {
                warn!("SIGTERM/SIGHUP handlers unavailable; stopping on Ctrl-C only");
                let _ = ctrl_c.await;
                Signal::Stop
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
        Signal::Stop
    }
}

/// What a reload reaches: the switchboard (IVR tree, prompts), the site's applier (the
/// file's `[acd]` timers, its queues and agents provisioned), the CRM (escalation targets).
#[derive(Clone)]
struct Reloader {
    switchboard: switchboard::Reload,
    site: Arc<site::SiteApplier>,
    store: crm::Store,
}

/// Re-reads the configuration file: a valid one goes to the switchboard ([`switchboard::Reload`]:
/// IVR tree, prompts), its queues and agents the database lacks are created and the site is
/// applied again (ACD timers), its escalation targets go to the CRM. An invalid one, or a tree
/// that routes to a queue the database does not have, changes nothing: every problem is
/// returned (and logged).
async fn reload(path: &std::path::Path, reloader: &Reloader) -> Result<String, String> {
    let config = Config::load(path).map_err(|errors| {
        error!("reload refused, configuration unchanged:\n{errors}");
        errors.to_string()
    })?;
    let store = &reloader.store;
    let provisioned = site::provision(store, &config).await.map_err(|e| {
        error!("reload refused: {e:#}");
        format!("{e:#}")
    })?;
    for line in provisioned {
        info!("site: {line}");
    }
    let current = store
        .site()
        .await
        .map_err(|e| format!("cannot read the site: {e}"))?;
    let missing = site::missing_routes(&config.ivr_config(), &current);
    if !missing.is_empty() {
        let text = format!(
            "the IVR routes to queues that take no calls: {} (create them first)",
            missing.join(", ")
        );
        error!("reload refused: {text}");
        return Err(text);
    }
    let switchboard = reloader.switchboard.clone();
    let (ivr, prompts_dir) = (config.ivr_config(), config.prompts.dir());
    // Reading and resampling the prompts is blocking work.
    tokio::task::spawn_blocking(move || switchboard.apply(&ivr, &prompts_dir))
        .await
        .map_err(|e| format!("reload failed: {e}"))??;
    reloader.site.set_timers(&config);
    if let Err(e) = reloader.site.apply().await {
        error!("reload: site not applied: {e:#}");
    }
    // New targets apply to tickets created or moved from now on (crm::sla).
    if let Err(e) = config.sla.apply(store).await {
        error!("reload: escalation targets not applied: {e:#}");
    }
    info!(file = %path.display(), "configuration reloaded");
    Ok(format!("{} reloaded", path.display()))
}

/// The console's view of the browser phones, from the switchboard's WebRTC legs.
#[derive(Debug)]
struct BrowserPhoneFigures(switchboard::BrowserPhones);

impl console::api::browser_phones::BrowserPhoneSource for BrowserPhoneFigures {
    fn view(
        &self,
    ) -> events::live::PortFuture<'_, console::api::browser_phones::BrowserPhonesJson> {
        Box::pin(async move {
            let registered = self.0.registered().await;
            let calls = self
                .0
                .calls()
                .await
                .into_iter()
                .map(|c| console::api::browser_phones::BrowserCallJson {
                    login: c.login,
                    since: c.since,
                    state: c.state,
                    packets_lost: c.packets_lost,
                    jitter_ms: c.jitter_ms,
                    round_trip_ms: c.round_trip_ms,
                    fraction_lost_by_browser: c.fraction_lost_by_browser,
                    packets_from_browser: c.packets_from_browser,
                    packets_to_browser: c.packets_to_browser,
                })
                .collect();
            console::api::browser_phones::BrowserPhonesJson { registered, calls }
        })
    }
}
