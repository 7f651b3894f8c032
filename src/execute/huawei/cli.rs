//! `vigil cloud huawei request`: one signed request by hand. With --dry-run it shows
//! every step of the signature (canonical request, string to sign, signed headers,
//! Authorization) to compare with Huawei's API Explorer; without, it sends the request
//! and prints the answer. The secret key is never printed, nor a security token.

use super::client::{self, Client, Service};
use super::credentials::Credentials;
use super::signer;
use crate::config::HuaweiConfig;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// A request body from a file is a JSON document, not a disk image.
const MAX_BODY_FILE: u64 = 1024 * 1024;

#[derive(Subcommand, Debug)]
pub enum CloudCmd {
    /// Huawei Cloud (AS and ECS APIs, AK/SK-signed)
    #[command(subcommand)]
    Huawei(HuaweiCmd),
}

#[derive(Subcommand, Debug)]
pub enum HuaweiCmd {
    /// Sign a request and send it (or, with --dry-run, show how it is signed)
    Request(RequestArgs),
}

#[derive(Args, Debug)]
pub struct RequestArgs {
    /// Print the canonical request, the string to sign, the signed headers and the
    /// Authorization header; send nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The region [default: huawei.region]
    #[arg(long)]
    pub region: Option<String>,
    /// The project, sent as X-Project-Id and put for "{project_id}" in the path
    /// [default: huawei.project_id]
    #[arg(long)]
    pub project_id: Option<String>,
    /// A file holding the request body (JSON)
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,
    /// Sign as of this time instead of now (X-Sdk-Date)
    #[arg(long, value_name = "YYYYMMDDTHHMMSSZ")]
    pub date: Option<String>,
    /// GET, PUT, POST, DELETE, PATCH, HEAD
    pub method: String,
    /// The path and query, e.g. "/autoscaling-api/v1/{project_id}/scaling_group?limit=10"
    #[arg(value_name = "PATH?QUERY")]
    pub target: String,
}

pub fn run(cmd: CloudCmd, cfg: &HuaweiConfig) -> anyhow::Result<ExitCode> {
    match cmd {
        CloudCmd::Huawei(HuaweiCmd::Request(a)) => request(a, cfg),
    }
}

fn request(a: RequestArgs, cfg: &HuaweiConfig) -> anyhow::Result<ExitCode> {
    let mut cfg = cfg.clone();
    if let Some(r) = a.region {
        cfg.region = r;
    }
    if let Some(p) = a.project_id {
        cfg.project_id = p;
    }
    let method = a.method.to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        anyhow::bail!(
            "METHOD: an HTTP method such as GET or PUT, got \"{}\"",
            a.method
        );
    }
    let (path, query) = match a.target.split_once('?') {
        Some((p, q)) => (p.to_string(), signer::parse_query(q)),
        None => (a.target.clone(), Vec::new()),
    };
    if !path.starts_with('/') {
        anyhow::bail!("PATH: must start with \"/\", got \"{path}\"");
    }
    let path = path.replace("{project_id}", cfg.project_id.trim());
    let body = match &a.body {
        Some(f) => Some(read_body(f)?),
        None => None,
    };
    let date = match &a.date {
        Some(d) => chrono::NaiveDateTime::parse_from_str(d, signer::DATE_FORMAT)
            .map_err(|_| anyhow::anyhow!("--date: like 20260102T030405Z (UTC), got \"{d}\""))?
            .and_utc(),
        None => chrono::Utc::now(),
    };
    let creds = Credentials::load(&cfg)?;
    let c = Client::build(&cfg, creds.clone())?;
    let p = client::prepare(
        &creds,
        cfg.project_id.trim(),
        c.base(Service::for_path(&path)),
        &method,
        &path,
        &query,
        body,
        &[],
        date,
    )?;
    // A temporary AK/SK's token is as secret as the key: shown as *** like it.
    let show = |s: &str| creds.scrub(s);
    if a.dry_run {
        println!(
            "canonical request:\n{}\n",
            show(&p.signature.canonical_request)
        );
        println!("string to sign:\n{}\n", p.signature.string_to_sign);
        println!("signed headers:");
        for (k, v) in &p.signature.signed {
            println!("{k}: {}", show(v));
        }
        println!("\nAuthorization: {}\n", p.signature.authorization);
        println!("{} {}", p.method, p.url);
        return Ok(ExitCode::SUCCESS);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match rt.block_on(c.send(&p)) {
        Ok(r) => {
            let rid = r
                .request_id
                .map(|r| format!(" (request id {r})"))
                .unwrap_or_default();
            println!("HTTP {}{rid}", r.status);
            println!("{}", pretty(&show(&String::from_utf8_lossy(&r.body))));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(1))
        }
    }
}

fn read_body(f: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(f).map_err(|e| anyhow::anyhow!("--body {}: {e}", f.display()))?;
    if meta.len() > MAX_BODY_FILE {
        anyhow::bail!(
            "--body {}: {} bytes, more than a request body may be ({MAX_BODY_FILE})",
            f.display(),
            meta.len()
        );
    }
    let mut out = Vec::new();
    std::fs::File::open(f)
        .and_then(|h| h.take(MAX_BODY_FILE).read_to_end(&mut out))
        .map_err(|e| anyhow::anyhow!("--body {}: {e}", f.display()))?;
    Ok(out)
}

/// JSON answers indented; anything else as it came.
fn pretty(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_string())
}
