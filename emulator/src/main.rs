//! The `mws-emulator` binary: parse, dispatch, print. Errors are one
//! `Error: …` line on stderr and exit code 1; usage errors exit 2 (clap).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use mws_emulator::cli::{self, Cli, Command, CredentialsCommand, SeedCommand, ServeArgs};
use mws_emulator::{seed, server, Store};

fn main() -> ExitCode {
    let args = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MWS_EMULATOR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let Some(db) = args.db.clone() else {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        cmd.error(
            clap::error::ErrorKind::MissingRequiredArgument,
            "--db PATH is required (or set MWS_EMULATOR_DB)",
        )
        .exit();
    };
    match run(&db, args.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(db: &Path, command: Command) -> Result<()> {
    match command {
        Command::Serve(args) => serve(db, args),
        Command::Credentials(CredentialsCommand::Create { member, json }) => {
            let store = Store::open(db)?;
            let report = cli::create_credentials(&store, member.as_deref())?;
            println!("{}", report.render(json));
            Ok(())
        }
        Command::Seed(SeedCommand::Demo { json }) => {
            let store = Store::open(db)?;
            let outcome = seed::seed_demo(&store)?;
            print_seed(&outcome, json)?;
            Ok(())
        }
        Command::Admin(admin) => {
            let store = Store::open(db)?;
            let report = cli::run_admin(&store, &admin.command)?;
            println!("{}", report.render(admin.json));
            Ok(())
        }
    }
}

fn print_seed(outcome: &seed::SeedOutcome, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(outcome)?);
    } else if let (Some(id), Some(secret)) = (&outcome.token_id, &outcome.token_secret) {
        println!(
            "Seeded the demo workspace '{}'. Credential (shown once):\ntoken_id={id}\ntoken_secret={secret}",
            seed::DEMO_WORKSPACE
        );
    } else {
        println!("The store is not empty; nothing seeded.");
    }
    Ok(())
}

/// The URL clients use for a bound address: an unspecified address (0.0.0.0,
/// ::) is reached through loopback.
fn url_for(addr: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    let ip = addr.ip();
    let host = if ip.is_unspecified() {
        if ip.is_ipv4() {
            "127.0.0.1".to_string()
        } else {
            "[::1]".to_string()
        }
    } else if ip.is_ipv6() {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    format!("{scheme}://{host}:{}", addr.port())
}

/// Writes `contents` to `path` via a temporary file in the same folder and a
/// rename, so a reader sees either nothing or the whole file.
fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ready".into());
    let tmp: PathBuf = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write ready file {}", path.display()))
}

fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read TLS {what} {}", path.display()))
}

fn serve(db: &Path, args: ServeArgs) -> Result<()> {
    let faults = args.fault_options().map_err(anyhow::Error::msg)?;
    let store = Store::open(db)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let identity = server::TlsIdentity {
                cert_pem: read_pem(cert, "certificate")?,
                key_pem: read_pem(key, "key")?,
            };
            server::check_tls(&identity)?;
            Some(identity)
        }
        _ => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        use tokio::signal::unix::{signal, SignalKind};
        // Handlers first, so a signal right after "ready" is not lost.
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;

        if args.seed.is_some() {
            let s = store.clone();
            let outcome = tokio::task::spawn_blocking(move || seed::seed_demo(&s))
                .await
                .context("seeding failed")??;
            println!("{}", serde_json::to_string(&outcome)?);
        }

        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener
            .local_addr()
            .context("cannot read the bound address")?;
        let url = url_for(addr, tls.is_some());
        let options = server::ServeOptions {
            tls,
            call_log: args.call_log.clone(),
            faults,
        };
        if let Some(path) = &args.ready_file {
            let ready = serde_json::json!({
                "url": url,
                "pid": std::process::id(),
                "tls": options.tls.is_some(),
            });
            write_atomically(path, format!("{ready}\n").as_bytes())?;
        }
        println!("mws-emulator listening on {url}");
        let _ = std::io::stdout().flush();

        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        server::run(listener, store, options, shutdown).await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            url_for("127.0.0.1:5000".parse().expect("addr"), false),
            "http://127.0.0.1:5000"
        );
        assert_eq!(
            url_for("0.0.0.0:1".parse().expect("addr"), true),
            "https://127.0.0.1:1"
        );
        assert_eq!(
            url_for("[::1]:7".parse().expect("addr"), false),
            "http://[::1]:7"
        );
    }
}
