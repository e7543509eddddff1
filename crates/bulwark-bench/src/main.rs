//! `cargo run --release -p bulwark-bench`: push and pull throughput of a large blob over
//! loopback and manifest GETs per second, printed next to this machine's `openssl dgst
//! -sha256` and `cat` rates for the same file so the figures read as ratios (absolute numbers
//! on shared machines are noisy).
//!
//! The server is the real router on the real stores (SQLite + local filesystem in a temp
//! dir), served on its own runtime in this process; the client is reqwest on another.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bulwark_auth::manage::NewProject;
use bulwark_auth::{Auth, AuthConfig, Credentials};
use bulwark_blobstore::BlobStore;
use bulwark_metadata::MetadataStore;
use bulwark_oci::Digest;
use bulwark_registry::{Registry, RegistryLimits};
use clap::Parser;
use futures::StreamExt;

// The server runs in this process: the same allocator as the `bulwark` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Bulwark throughput benchmark")]
struct Args {
    /// Size of the blob pushed and pulled, in MiB.
    #[arg(long, default_value_t = 1024)]
    blob_mib: u64,
    /// Concurrent connections for the manifest GET load.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds of manifest GET load; 0 skips it (to profile blob transfers alone).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Times the blob is pulled after the push; the first pull may read it from disk, later
    /// ones from the page cache.
    #[arg(long, default_value_t = 2)]
    pulls: u32,
}

fn mib_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64()
}

/// Times a shell command over `file`, returning its stdout and duration.
fn time_command(program: &str, args: &[&str], file: &Path) -> anyhow::Result<(String, Duration)> {
    let start = Instant::now();
    let output = Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .with_context(|| format!("running {program}"))?;
    let elapsed = start.elapsed();
    if !output.status.success() {
        bail!(
            "{program} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok((
        String::from_utf8_lossy(&output.stdout).into_owned(),
        elapsed,
    ))
}

/// Times `sh -c script` with positional arguments `$1`, `$2`, ….
fn time_shell(script: &str, args: &[&Path]) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
        .status()
        .context("running sh")?;
    let elapsed = start.elapsed();
    if !status.success() {
        bail!("`{script}` failed");
    }
    Ok(elapsed)
}

/// The fastest this machine moves the file over loopback TCP: `sendfile(2)` (no copy on the
/// sending side) into a reader that discards, no HTTP. A pull cannot beat it.
fn loopback_tcp_time(file: &Path) -> anyhow::Result<Duration> {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let source = std::fs::File::open(file)?;
    let size = source.metadata()?.len();
    let sender = std::thread::spawn(move || -> anyhow::Result<()> {
        let (socket, _) = listener.accept()?;
        let mut offset = 0u64;
        while offset < size {
            let count = usize::try_from(size - offset).unwrap_or(usize::MAX);
            let sent = rustix::fs::sendfile(&socket, &source, Some(&mut offset), count)?;
            if sent == 0 {
                bail!("sendfile stopped at {offset} of {size}");
            }
        }
        Ok(())
    });
    let start = Instant::now();
    let mut socket = std::net::TcpStream::connect(address)?;
    let mut buffer = vec![0u8; 1024 * 1024];
    let mut received = 0u64;
    loop {
        let n = socket.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        received += n as u64;
    }
    let elapsed = start.elapsed();
    sender
        .join()
        .map_err(|_| anyhow::anyhow!("the sendfile thread panicked"))??;
    if received != size {
        bail!("loopback baseline received {received} of {size} bytes");
    }
    Ok(elapsed)
}

/// The file as a stream of 1 MiB chunks, read on a thread of its own, each straight into the
/// buffer that is sent: the client costs about what curl's does (one copy), so the push
/// figure is the server's.
fn file_chunks(
    path: &Path,
) -> anyhow::Result<impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + use<>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    std::thread::spawn(move || {
        loop {
            let mut chunk = bytes::BytesMut::zeroed(1024 * 1024);
            let read = match file.read(&mut chunk) {
                Ok(0) => return,
                Ok(read) => read,
                Err(e) => {
                    sender.blocking_send(Err(e)).ok();
                    return;
                }
            };
            chunk.truncate(read);
            if sender.blocking_send(Ok(chunk.freeze())).is_err() {
                return;
            }
        }
    });
    Ok(futures::stream::unfold(receiver, |mut receiver| async {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    }))
}

fn write_blob_file(path: &Path, mib: u64) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut chunk = vec![0u8; 1024 * 1024];
    for n in 0..mib {
        for (i, byte) in chunk.iter_mut().enumerate() {
            *byte = ((i as u64).wrapping_mul(2_654_435_761) ^ n) as u8;
        }
        file.write_all(&chunk)?;
    }
    file.flush()?;
    Ok(())
}

/// How a bench server differs from a default deployment, to measure what each costs.
#[derive(Clone)]
struct ServerOptions {
    /// `false`: manifest GETs are not judged by policy, the baseline judging them is
    /// measured against.
    enforce_pulls: bool,
    /// `false`: successful pulls leave no audit record, the baseline of auditing every pull.
    audit_reads: bool,
    /// Serve TLS with this configuration.
    tls: Option<Arc<bulwark_server::Tls>>,
    /// Store blobs encrypted (a key-encryption key made for the run).
    encrypted: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            enforce_pulls: true,
            audit_reads: true,
            tls: None,
            encrypted: false,
        }
    }
}

/// Starts the server with an administrator and the `bench` project; returns its URL and the
/// administrator's access token.
fn start_server(data_dir: PathBuf, options: ServerOptions) -> anyhow::Result<(String, String)> {
    let (address_tx, address_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                address_tx.send(Err(anyhow::Error::from(e))).ok();
                return;
            }
        };
        runtime.block_on(async move {
            let started = async {
                let blobs = BlobStore::open_local(&data_dir.join("blobs"), true)?;
                let blobs = if options.encrypted {
                    let keys = bulwark_blobstore::KeyFile::parse(
                        &bulwark_blobstore::KeyFile::generate()?,
                    )?;
                    blobs.encrypted(Arc::new(keys), true)
                } else {
                    blobs
                };
                let metadata = MetadataStore::open_sqlite_in(&data_dir).await?;
                let auth = Auth::new(metadata.clone(), AuthConfig::default()).await?;
                let (_, token) = auth.init_admin("bench", None).await?;
                let admin = auth
                    .authenticate(
                        Credentials::Basic {
                            username: "bench",
                            secret: &token.token,
                        },
                        "127.0.0.1",
                    )
                    .await?;
                let admin =
                    bulwark_auth::Caller::new(admin, "127.0.0.1".into(), "bench-setup".into());
                auth.create_project(
                    &admin,
                    NewProject {
                        name: "bench".into(),
                        ..NewProject::default()
                    },
                )
                .await?;
                // The bench measures the registry's paths; nothing feeds this scanner.
                let registry = Registry::new(blobs, metadata.clone(), RegistryLimits::default());
                let scanner = bulwark_scan::service::Scanner::new(
                    metadata.clone(),
                    registry.clone(),
                    bulwark_vulndb::VulnDb::new(metadata.clone()),
                    bulwark_scan::service::ScanSettings::default(),
                    "bench",
                );
                // Audited as a default deployment is (every request, reads included) unless
                // `audit_reads` is off.
                let audit = bulwark_audit::AuditLog::start(
                    metadata.clone(),
                    bulwark_audit::CheckpointSigner::generate()?,
                );
                let governance = bulwark_governance::Governance::new(
                    metadata.clone(),
                    registry.clone(),
                    scanner.clone(),
                    bulwark_governance::GovernanceSettings {
                        enforce_pulls: options.enforce_pulls,
                        ..bulwark_governance::GovernanceSettings::default()
                    },
                    bulwark_governance::Clock::system(),
                );
                // No webhooks are made here; the service answers the API's webhook rows.
                let webhooks = bulwark_webhooks::Webhooks::new(
                    metadata.clone(),
                    bulwark_webhooks::WebhookSettings::default(),
                )?;
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                let address = listener.local_addr()?;
                anyhow::Ok((
                    registry,
                    auth,
                    scanner,
                    governance,
                    audit,
                    webhooks,
                    token.token,
                    listener,
                    address,
                ))
            }
            .await;
            match started {
                Ok((
                    registry,
                    auth,
                    scanner,
                    governance,
                    audit,
                    webhooks,
                    token,
                    listener,
                    address,
                )) => {
                    let scheme = if options.tls.is_some() {
                        "https"
                    } else {
                        "http"
                    };
                    address_tx
                        .send(Ok((format!("{scheme}://{address}"), token)))
                        .ok();
                    let limits = bulwark_server::ConnectionLimits::default();
                    let metrics =
                        std::sync::Arc::new(bulwark_server::Metrics::new(&scanner, &governance));
                    let router = bulwark_server::router(
                        bulwark_server::AppState {
                            registry,
                            auth,
                            scanner,
                            governance,
                            public_url: None,
                            trusted_proxies: Vec::new(),
                            audit,
                            audit_reads: options.audit_reads,
                            metrics,
                            webhooks,
                            serves_tls: options.tls.is_some(),
                        },
                        limits.request_timeout,
                    );
                    bulwark_server::serve(
                        listener,
                        router,
                        limits,
                        options.tls,
                        futures::future::pending(),
                    )
                    .await
                    .ok();
                }
                Err(e) => {
                    address_tx.send(Err(e)).ok();
                }
            }
        });
    });
    address_rx.recv()?
}

/// Pushes a small image and GETs its manifest from `connections` clients for `seconds`;
/// returns requests per second.
async fn manifest_gets(
    client: &reqwest::Client,
    base: &str,
    connections: usize,
    seconds: u64,
) -> anyhow::Result<f64> {
    let config = b"{}";
    let config_digest = Digest::sha256_of(config);
    client
        .post(format!(
            "{base}/v2/bench/app/blobs/uploads/?digest={config_digest}"
        ))
        .body(config.to_vec())
        .send()
        .await?
        .error_for_status()?;
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": 2},
        "layers": []
    }))?;
    client
        .put(format!("{base}/v2/bench/app/manifests/latest"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest)
        .send()
        .await?
        .error_for_status()?;
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let url = format!("{base}/v2/bench/app/manifests/latest");
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (client, url, count) = (client.clone(), url.clone(), count.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let response = client.get(&url).send().await?.error_for_status()?;
                    response.bytes().await?;
                    count.fetch_add(1, Ordering::Relaxed);
                }
                anyhow::Ok(())
            })
        })
        .collect();
    let start = Instant::now();
    for worker in workers {
        worker.await??;
    }
    let load_time = start.elapsed();
    Ok(count.load(Ordering::Relaxed) as f64 / load_time.as_secs_f64())
}

/// Manifest GETs per second on each server.
#[derive(Default)]
struct GetRates {
    judged: f64,
    unjudged: f64,
    not_audited: f64,
    tls: f64,
}

/// Pushes `file` as one streamed request (the server hashing and writing as it reads), then
/// pulls it `pulls` times into nothing; the push's and each pull's time.
async fn transfer(
    client: &reqwest::Client,
    base: &str,
    file: &Path,
    digest: &Digest,
    size: u64,
    pulls: u32,
) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let repo = "bench/blob";
    let body = reqwest::Body::wrap_stream(file_chunks(file)?);
    let start = Instant::now();
    let response = client
        .post(format!("{base}/v2/{repo}/blobs/uploads/?digest={digest}"))
        .header("content-length", size)
        .body(body)
        .send()
        .await?;
    let push_time = start.elapsed();
    if response.status() != 201 {
        bail!(
            "push failed: {} {}",
            response.status(),
            response.text().await?
        );
    }
    let mut pull_times = Vec::new();
    for _ in 0..pulls {
        let start = Instant::now();
        let response = client
            .get(format!("{base}/v2/{repo}/blobs/{digest}"))
            .send()
            .await?;
        let mut stream = response.bytes_stream();
        let mut pulled = 0u64;
        while let Some(chunk) = stream.next().await {
            pulled += chunk?.len() as u64;
        }
        pull_times.push(start.elapsed());
        if pulled != size {
            bail!("pulled {pulled} bytes of {size}");
        }
    }
    Ok((push_time, pull_times))
}

/// A self-signed certificate for 127.0.0.1 in `dir`, loaded as the server's TLS
/// configuration, and the certificate for the client to trust.
fn bench_tls(dir: &Path) -> anyhow::Result<(Arc<bulwark_server::Tls>, reqwest::Certificate)> {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])?;
    let (certificate, key) = (dir.join("bench-cert.pem"), dir.join("bench-key.pem"));
    std::fs::write(&certificate, cert.pem())?;
    std::fs::write(&key, signing_key.serialize_pem())?;
    let tls = bulwark_server::Tls::load(bulwark_server::TlsFiles {
        certificate,
        key,
        client_ca: None,
        client_certificate_required: false,
    })?;
    Ok((
        Arc::new(tls),
        reqwest::Certificate::from_pem(cert.pem().as_bytes())?,
    ))
}

/// A client that does what registry clients do: one token request, then a bearer token on
/// every request.
async fn bearer_client(
    base: &str,
    admin_token: &str,
    connections: usize,
    ca: Option<&reqwest::Certificate>,
) -> anyhow::Result<reqwest::Client> {
    let builder = || {
        let builder = reqwest::Client::builder();
        match ca {
            Some(ca) => builder.add_root_certificate(ca.clone()),
            None => builder,
        }
    };
    let token: serde_json::Value = builder()
        .build()?
        .get(format!("{base}/auth/token"))
        .basic_auth("bench", Some(admin_token))
        .query(&[
            ("service", "bulwark"),
            ("scope", "repository:bench/blob:pull,push"),
            ("scope", "repository:bench/app:pull,push"),
        ])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {}", token["token"].as_str().unwrap_or_default()).parse()?,
    );
    Ok(builder()
        .pool_max_idle_per_host(connections)
        .default_headers(headers)
        .build()?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let work = tempfile::tempdir()?;
    let file = work.path().join("blob.bin");
    let size = args.blob_mib * 1024 * 1024;
    eprintln!("writing a {} MiB test file…", args.blob_mib);
    write_blob_file(&file, args.blob_mib)?;

    // The machine's own limits on the same (now cached) file.
    // Through sh so that cat writes to /dev/null, not into a pipe this process buffers.
    let cat_to_null = ["-c", "cat \"$0\" > /dev/null"];
    time_command("sh", &cat_to_null, &file)?;
    let (_, cat_time) = time_command("sh", &cat_to_null, &file)?;
    let (openssl_out, openssl_time) = time_command("openssl", &["dgst", "-sha256", "-r"], &file)?;
    // The disk's write limit in the same moment: a push must also write the blob, which the
    // local store does with direct I/O, as `dd oflag=direct` does. Timed writes start after
    // a `sync`, so earlier dirty pages are not charged to them.
    let copy = work.path().join("copy.bin");
    time_shell("sync", &[])?;
    let write_time = time_shell(
        "dd if=\"$1\" of=\"$2\" bs=2M oflag=direct status=none",
        &[&file, &copy],
    )?;
    // The copy went past the page cache: reading it is what the first pull of a new blob
    // does (the registry writes uploads with direct I/O too).
    let cold_cat_time = time_shell("cat \"$1\" > /dev/null", &[&copy])?;
    std::fs::remove_file(&copy).ok();
    time_shell("sync", &[])?;
    // Loopback throughput swings from run to run on a shared machine; its best of three is
    // the ceiling a pull is held against.
    let mut loopback_time = loopback_tcp_time(&file)?;
    for _ in 0..2 {
        loopback_time = loopback_time.min(loopback_tcp_time(&file)?);
    }
    let hex = openssl_out.split_whitespace().next().unwrap_or_default();
    let digest: Digest = format!("sha256:{hex}")
        .parse()
        .context("openssl's digest")?;

    let (base, admin_token) = start_server(work.path().join("data"), ServerOptions::default())?;
    let client = bearer_client(&base, &admin_token, args.connections, None).await?;
    let (push_time, pull_times) =
        transfer(&client, &base, &file, &digest, size, args.pulls).await?;
    // The same on a server that speaks TLS itself (a certificate made here, trusted by the
    // client): what encrypting the traffic costs.
    let (tls, ca) = bench_tls(work.path())?;
    let (tls_base, tls_token) = start_server(
        work.path().join("tls"),
        ServerOptions {
            tls: Some(tls),
            ..ServerOptions::default()
        },
    )?;
    let tls_client = bearer_client(&tls_base, &tls_token, args.connections, Some(&ca)).await?;
    let (tls_push_time, tls_pull_times) = transfer(
        &tls_client,
        &tls_base,
        &file,
        &digest,
        size,
        args.pulls.max(2),
    )
    .await?;
    // The same on a server that stores blobs encrypted.
    let (sealed_base, sealed_token) = start_server(
        work.path().join("sealed"),
        ServerOptions {
            encrypted: true,
            ..ServerOptions::default()
        },
    )?;
    let sealed_client = bearer_client(&sealed_base, &sealed_token, args.connections, None).await?;
    let (sealed_push_time, sealed_pull_times) = transfer(
        &sealed_client,
        &sealed_base,
        &file,
        &digest,
        size,
        args.pulls.max(2),
    )
    .await?;

    // Manifest GETs at N connections: judged by a policy (severity, secrets, malicious
    // packages) on this server, not judged at all on a second one, alternating rounds so
    // that the machine's drift falls on both alike.
    let gets = if args.seconds == 0 {
        None
    } else {
        let set_policy = |client: &reqwest::Client, base: &str, token: &str| {
            client
                .put(format!("{base}/api/v1/projects/bench/policy"))
                .basic_auth("bench", Some(token))
                .header("content-type", "application/json")
                .body(
                    serde_json::json!({
                        "document": "block_severity = \"high\"\nblock_secrets = true\n"
                    })
                    .to_string(),
                )
                .send()
        };
        set_policy(&client, &base, &admin_token)
            .await?
            .error_for_status()?;
        set_policy(&tls_client, &tls_base, &tls_token)
            .await?
            .error_for_status()?;
        let (baseline, baseline_token) = start_server(
            work.path().join("baseline"),
            ServerOptions {
                enforce_pulls: false,
                ..ServerOptions::default()
            },
        )?;
        let baseline_client =
            bearer_client(&baseline, &baseline_token, args.connections, None).await?;
        // Judged by the same policy, with successful pulls left out of the audit log.
        let (unaudited, unaudited_token) = start_server(
            work.path().join("unaudited"),
            ServerOptions {
                audit_reads: false,
                ..ServerOptions::default()
            },
        )?;
        let unaudited_client =
            bearer_client(&unaudited, &unaudited_token, args.connections, None).await?;
        set_policy(&unaudited_client, &unaudited, &unaudited_token)
            .await?
            .error_for_status()?;
        let round = (args.seconds / 2).max(1);
        let mut rates = GetRates::default();
        for _ in 0..2 {
            rates.judged += manifest_gets(&client, &base, args.connections, round).await? / 2.0;
            rates.unjudged +=
                manifest_gets(&baseline_client, &baseline, args.connections, round).await? / 2.0;
            rates.not_audited +=
                manifest_gets(&unaudited_client, &unaudited, args.connections, round).await? / 2.0;
            rates.tls +=
                manifest_gets(&tls_client, &tls_base, args.connections, round).await? / 2.0;
        }
        Some(rates)
    };

    let hash_rate = mib_per_s(size, openssl_time);
    let cat_rate = mib_per_s(size, cat_time);
    let write_rate = mib_per_s(size, write_time);
    let push_rate = mib_per_s(size, push_time);
    let loopback_rate = mib_per_s(size, loopback_time);
    println!("blob size                    {} MiB", args.blob_mib);
    println!("openssl dgst -sha256         {hash_rate:8.0} MiB/s");
    let cold_cat_rate = mib_per_s(size, cold_cat_time);
    println!("cat                          {cat_rate:8.0} MiB/s");
    println!("cat, not in the page cache   {cold_cat_rate:8.0} MiB/s");
    println!("direct write to the disk     {write_rate:8.0} MiB/s");
    println!("loopback TCP (sendfile)      {loopback_rate:8.0} MiB/s");
    println!(
        "push (loopback)              {push_rate:8.0} MiB/s   {:.2}x openssl sha256, {:.2}x the slower of openssl and disk",
        push_rate / hash_rate,
        push_rate / hash_rate.min(write_rate)
    );
    for (n, time) in pull_times.iter().enumerate() {
        let pull_rate = mib_per_s(size, *time);
        // The first pull reads the new blob from disk, later ones from the page cache.
        let (which, cat_rate) = if n == 0 {
            ("first", cold_cat_rate)
        } else {
            ("again", cat_rate)
        };
        let against = if n == 0 { "cat not in cache" } else { "cat" };
        println!(
            "pull, {which} (loopback)       {pull_rate:8.0} MiB/s   {:.2}x {against}, {:.2}x loopback TCP",
            pull_rate / cat_rate,
            pull_rate / loopback_rate
        );
    }
    let sealed_push_rate = mib_per_s(size, sealed_push_time);
    println!(
        "push, encrypted at rest      {sealed_push_rate:8.0} MiB/s   {:.2}x unencrypted",
        sealed_push_rate / push_rate
    );
    let first = |times: &[Duration]| times.first().copied();
    if let (Some(plain), Some(sealed)) = (first(&pull_times), first(&sealed_pull_times)) {
        let (plain, sealed) = (mib_per_s(size, plain), mib_per_s(size, sealed));
        println!(
            "pull, encrypted, first       {sealed:8.0} MiB/s   {:.2}x unencrypted ({plain:.0} MiB/s)",
            sealed / plain
        );
    }
    let tls_push_rate = mib_per_s(size, tls_push_time);
    println!(
        "push over TLS                {tls_push_rate:8.0} MiB/s   {:.2}x plain HTTP",
        tls_push_rate / push_rate
    );
    // Later pulls come from the page cache on both servers: the comparison is of transports.
    let again = |times: &[Duration]| times.get(1..).and_then(|rest| rest.iter().min().copied());
    if let (Some(plain), Some(sealed)) = (again(&pull_times), again(&sealed_pull_times)) {
        let (plain, sealed) = (mib_per_s(size, plain), mib_per_s(size, sealed));
        println!(
            "pull, encrypted, again       {sealed:8.0} MiB/s   {:.2}x unencrypted ({plain:.0} MiB/s)",
            sealed / plain
        );
    }
    if let (Some(plain), Some(tls)) = (again(&pull_times), again(&tls_pull_times)) {
        let (plain, tls) = (mib_per_s(size, plain), mib_per_s(size, tls));
        println!(
            "pull over TLS, again         {tls:8.0} MiB/s   {:.2}x plain HTTP ({plain:.0} MiB/s)",
            tls / plain
        );
    }
    if let Some(rates) = gets {
        let GetRates {
            judged,
            unjudged,
            not_audited,
            tls,
        } = rates;
        println!(
            "manifest GET, {} conns       {judged:8.0} req/s   {:.3}x without policy enforcement ({unjudged:.0} req/s)",
            args.connections,
            judged / unjudged
        );
        println!(
            "  every pull audited          {:.3}x with successful pulls not audited ({not_audited:.0} req/s)",
            judged / not_audited
        );
        println!(
            "  over TLS                    {:.3}x plain HTTP ({tls:.0} req/s)",
            tls / judged
        );
    }
    Ok(())
}
