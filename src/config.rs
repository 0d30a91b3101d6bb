//! The one config file: its schema, loading, environment overrides and validation.
//!
//! Loading is "parse, don't validate": [`load`] returns a [`Config`] whose addresses are
//! already `SocketAddr`s and whose enums are already enums, or a [`ConfigError`] that names
//! the file, the key and (when the key is in the file) the line.
//!
//! Environment overrides: `RTCGATE_<SECTION>__<KEY>=value` replaces `<key>` in `[<section>]`
//! (`RTCGATE_API__LISTEN=0.0.0.0:8080`). The value is read as a TOML value when it parses as
//! one (numbers, booleans, arrays) and as a string otherwise.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The prefix of environment overrides.
pub const ENV_PREFIX: &str = "RTCGATE_";

/// The whole config file. Every key is documented in `config/rtcgate.toml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The JSON API listener (REST, WebSocket, static pages).
    pub api: ApiConfig,
    /// The admin listener (metrics, health, drain).
    pub admin: AdminConfig,
    /// SIP toward the IMS core.
    pub sip: SipConfig,
    /// The media plane.
    pub media: MediaConfig,
    /// The in-process lab IMS (used when `sip.mode = "lab"`).
    #[serde(default)]
    pub lab: LabConfig,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
}

/// `[api]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Address the API binds.
    pub listen: SocketAddr,
    /// Seconds a refused client is told to wait (`Retry-After`) while the node drains.
    #[serde(default = "default_retry_after")]
    pub retry_after_secs: u32,
    /// Seconds a WebSocket channel waits for its client to reconnect before its calls
    /// end.
    #[serde(default = "default_channel_grace")]
    pub channel_grace_secs: u64,
    /// The `ws://`/`wss://` base written into `channelURL` (the address clients reach,
    /// e.g. behind a reverse proxy); by default `ws://` and the request's Host.
    pub public_url: Option<String>,
    /// `[api.auth]`: how bearer tokens are checked.
    #[serde(default)]
    pub auth: AuthConfig,
    /// `[api.cors]`: which web origins may use the API.
    #[serde(default)]
    pub cors: CorsConfig,
    /// `[api.limits]`: caps and request rates.
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// How bearer tokens are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// rtcgate issues tokens itself at `POST /dev/token` (loopback API only).
    #[default]
    Dev,
    /// JWTs from the operator's identity provider (OpenID discovery + JWKS).
    Jwt,
    /// Opaque tokens checked at an RFC 7662 introspection endpoint.
    Introspection,
}

/// `[api.auth]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `dev`, `jwt` or `introspection`.
    pub mode: AuthKind,
    /// JWT: the `iss` tokens carry.
    pub issuer: Option<String>,
    /// JWT: the `aud` tokens carry.
    pub audience: Option<String>,
    /// JWT: the discovery document, if not `{issuer}/.well-known/openid-configuration`.
    pub discovery_url: Option<String>,
    /// The claim (or introspection member) holding the phone number.
    pub phone_claim: String,
    /// Introspection: the endpoint.
    pub introspection_url: Option<String>,
    /// Introspection: rtcgate's client id.
    pub client_id: Option<String>,
    /// Introspection: rtcgate's client secret (masked by `check-config`).
    pub client_secret: Option<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthKind::Dev,
            issuer: None,
            audience: None,
            discovery_url: None,
            phone_claim: "phone_number".into(),
            introspection_url: None,
            client_id: None,
            client_secret: None,
        }
    }
}

/// `[api.cors]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Allowed origins: `scheme://host[:port]`, or `scheme://host:*` for any port.
    pub allowed_origins: Vec<String>,
    /// Also allow the API's own origin.
    pub allow_same_origin: bool,
    /// Seconds a browser may cache a preflight answer.
    pub max_age_secs: u32,
}

impl Default for CorsConfig {
    fn default() -> Self {
        let d = interworking_stub::cors::CorsOptions::default();
        Self {
            allowed_origins: d.allowed_origins,
            allow_same_origin: d.allow_same_origin,
            max_age_secs: d.max_age_secs,
        }
    }
}

/// `[api.limits]` (a cap of 0 turns it off; a rate of 0 turns that limit off).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Registrations one phone number may hold at once.
    pub max_registrations_per_user: usize,
    /// Registrations one device may hold at once.
    pub max_registrations_per_device: usize,
    /// Calls in progress through one registration.
    pub max_calls_per_registration: usize,
    /// Requests a token may send back to back.
    pub bearer_burst: u32,
    /// Requests per second a token's bucket refills by.
    pub bearer_rate_per_sec: f64,
    /// Requests a source address may send back to back.
    pub address_burst: u32,
    /// Requests per second an address's bucket refills by.
    pub address_rate_per_sec: f64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let d = interworking_stub::limits::LimitOptions::default();
        let (token, address) = (
            d.per_token.unwrap_or(RATE_OFF),
            d.per_address.unwrap_or(RATE_OFF),
        );
        Self {
            max_registrations_per_user: d.max_registrations_per_user,
            max_registrations_per_device: d.max_registrations_per_device,
            max_calls_per_registration: d.max_calls_per_registration,
            bearer_burst: token.burst,
            bearer_rate_per_sec: token.per_second,
            address_burst: address.burst,
            address_rate_per_sec: address.per_second,
        }
    }
}

const RATE_OFF: interworking_stub::limits::Rate = interworking_stub::limits::Rate {
    burst: 0,
    per_second: 0.0,
};

fn default_channel_grace() -> u64 {
    30
}

/// `[admin]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address the admin listener binds.
    pub listen: SocketAddr,
    /// Seconds calls in progress may continue after a drain starts before they are ended.
    #[serde(default = "default_drain_deadline")]
    pub drain_deadline_secs: u64,
    /// Seconds the node keeps answering (with readiness off) after a drain starts, even
    /// with nothing left to finish, so load balancers see it leave before it disappears.
    #[serde(default = "default_drain_linger")]
    pub drain_linger_secs: u64,
}

/// How rtcgate reaches the IMS core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SipMode {
    /// Register every web user through a P-CSCF.
    Pcscf,
    /// No registration; calls go to an IBCF trunk.
    Trunk,
    /// The in-process lab IMS.
    Lab,
}

/// `[sip]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SipConfig {
    /// `pcscf`, `trunk` or `lab`.
    pub mode: SipMode,
    /// UDP listen address; omit to disable UDP.
    pub udp_listen: Option<SocketAddr>,
    /// TCP listen address; omit to disable TCP.
    pub tcp_listen: Option<SocketAddr>,
    /// TLS listen address; omit to disable TLS. Needs `tls_cert` and `tls_key`.
    pub tls_listen: Option<SocketAddr>,
    /// PEM certificate chain presented on the TLS listener.
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<std::path::PathBuf>,
    /// Next hop (P-CSCF or IBCF) as `host:port`, or a SIP URI; required outside lab mode.
    pub next_hop: Option<String>,
    /// PEM CA certificates that the next hop's TLS certificate must chain to. Required
    /// when the next hop is reached over TLS (`sips:` or `;transport=tls`).
    pub tls_ca: Option<std::path::PathBuf>,
    /// PEM certificate chain the gateway presents to the next hop (mutual TLS, as IBCFs
    /// often require). Needs `tls_client_key`.
    pub tls_client_cert: Option<std::path::PathBuf>,
    /// PEM private key of `tls_client_cert`.
    pub tls_client_key: Option<std::path::PathBuf>,
    /// The name the next hop's certificate must carry; defaults to the host of `next_hop`.
    pub tls_server_name: Option<String>,
    /// Verify the next hop's TLS certificate. Only a lab should turn this off.
    #[serde(default = "default_true")]
    pub tls_verify: bool,
    /// The largest SIP message accepted, in bytes (UDP datagram or framed TCP message).
    #[serde(default = "default_max_message")]
    pub max_message_bytes: usize,
    /// TCP connections accepted at once; further ones are closed at accept.
    #[serde(default = "default_max_tcp")]
    pub max_tcp_connections: usize,
    /// Seconds of silence after which a TCP connection is closed.
    #[serde(default = "default_tcp_idle")]
    pub tcp_idle_timeout_secs: u64,
    /// RFC 3261 T1 (round-trip estimate), milliseconds.
    #[serde(default = "default_t1")]
    pub t1_ms: u64,
    /// RFC 3261 T2 (retransmission cap), milliseconds.
    #[serde(default = "default_t2")]
    pub t2_ms: u64,
    /// RFC 3261 T4 (network lifetime of a message), milliseconds.
    #[serde(default = "default_t4")]
    pub t4_ms: u64,
    /// The IMS home domain: host of From/To/Request-URI for numbers
    /// (`sip:+1555…@domain;user=phone`) and of the REGISTER Request-URI. Required outside
    /// lab mode.
    pub domain: Option<String>,
    /// RFC 4028 Session-Expires offered in INVITEs, seconds (at least 90).
    #[serde(default = "default_session_expires")]
    pub session_expires_secs: u32,
    /// Expiry asked for in REGISTER, seconds (pcscf and lab modes).
    #[serde(default = "default_register_expires")]
    pub register_expires_secs: u32,
    /// Seconds between OPTIONS keep-alives toward the next hop; 0 turns them off.
    #[serde(default = "default_options_interval")]
    pub options_interval_secs: u64,
    /// `P-Access-Network-Info` written into requests toward IMS (TS 24.229 §7.2A.4).
    pub access_network_info: Option<String>,
    /// pcscf mode: digest realm of the registrations (default: `domain`).
    pub auth_realm: Option<String>,
    /// pcscf mode: private identity of a web user's number; `{number}` is `+15550001`,
    /// `{digits}` `15550001`.
    #[serde(default = "default_auth_username")]
    pub auth_username: String,
    /// pcscf mode: digest password of the registrations (masked by `check-config`).
    pub auth_password: Option<String>,
}

/// Which packet engine the media plane uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaBackend {
    /// io_uring when the kernel allows it, else epoll.
    Auto,
    /// io_uring or fail to start.
    IoUring,
    /// epoll + recvmmsg/sendmmsg.
    Epoll,
}

/// `[media]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    /// `auto`, `io_uring` or `epoll`.
    #[serde(default = "default_backend")]
    pub backend: MediaBackend,
    /// Worker threads; 0 means one per core.
    #[serde(default)]
    pub workers: usize,
    /// The shared WebRTC (ICE/DTLS/SRTP) UDP address browsers send media to.
    pub webrtc_listen: SocketAddr,
    /// The address the IMS leg binds its per-call RTP ports on.
    pub ims_address: std::net::IpAddr,
    /// First port of the IMS-leg RTP range (even).
    pub ims_port_min: u16,
    /// Last port of the IMS-leg RTP range (RTCP uses each even port's next one).
    pub ims_port_max: u16,
    /// SDES-SRTP (`RTP/SAVP` with `a=crypto`) toward IMS; `false` offers plain RTP.
    #[serde(default = "default_true")]
    pub ims_srtp: bool,
    /// Seconds without media on a leg after which the call is ended (media timeout).
    #[serde(default = "default_inactivity")]
    pub inactivity_secs: u64,
    /// Seconds a released IMS-leg port rests before another call may take it.
    #[serde(default = "default_quarantine")]
    pub port_quarantine_secs: u64,
    /// The address written into the browser's ICE candidate when `webrtc_listen` is a
    /// wildcard or sits behind a static 1:1 NAT.
    pub webrtc_public_ip: Option<std::net::IpAddr>,
    /// `shared` (one WebRTC port per worker, calls told apart by ICE ufrag and latched
    /// 5-tuple) or `per_call` (each call's WebRTC leg on its own port from
    /// `webrtc_port_min..=webrtc_port_max`).
    #[serde(default)]
    pub webrtc_ports: WebrtcPorts,
    /// First port of the per-call WebRTC range.
    pub webrtc_port_min: Option<u16>,
    /// Last port of the per-call WebRTC range.
    pub webrtc_port_max: Option<u16>,
}

/// How browsers' media reaches the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebrtcPorts {
    /// One port per worker (RFC 7983 demultiplexing).
    #[default]
    Shared,
    /// One port per call, from a range.
    PerCall,
}

/// `[lab]`: the numbers the in-process lab IMS answers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabConfig {
    /// SIP address of the lab IMS, so SIP tools can register and call through it.
    pub listen: SocketAddr,
    /// Answers and echoes the media it receives.
    pub echo_number: String,
    /// Answers 486 Busy Here.
    pub busy_number: String,
    /// Answers 603 Decline.
    pub decline_number: String,
    /// Rings, then answers 408 after ten seconds.
    pub no_answer_number: String,
}

impl Default for LabConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 5070)),
            echo_number: "+15550100".into(),
            busy_number: "+15550486".into(),
            decline_number: "+15550603".into(),
            no_answer_number: "+15550408".into(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[log]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter: a default level plus per-module levels (`info,sip_proxy=debug`).
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
    /// Redact phone numbers, SIP URIs and IP addresses in logs.
    pub redact: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
            redact: true,
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_retry_after() -> u32 {
    30
}
fn default_drain_deadline() -> u64 {
    300
}
fn default_drain_linger() -> u64 {
    5
}
fn default_max_message() -> usize {
    65_535
}
fn default_max_tcp() -> usize {
    1024
}
fn default_tcp_idle() -> u64 {
    300
}
fn default_t1() -> u64 {
    500
}
fn default_t2() -> u64 {
    4000
}
fn default_t4() -> u64 {
    5000
}
fn default_auth_username() -> String {
    "{digits}@{domain}".into()
}
fn default_session_expires() -> u32 {
    1800
}
fn default_register_expires() -> u32 {
    3600
}
fn default_options_interval() -> u64 {
    30
}
fn default_inactivity() -> u64 {
    30
}
fn default_quarantine() -> u64 {
    30
}
fn default_backend() -> MediaBackend {
    MediaBackend::Auto
}

/// Why a config could not be loaded. Every variant names the file; the binary prints it
/// and exits with status 2.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The config file.
        file: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key is unknown or has the wrong type.
    #[error("{file}{line}: key `{key}`: {message}", line = LineSuffix(*line))]
    Invalid {
        /// The config file.
        file: PathBuf,
        /// Dotted key path (`api.listen`).
        key: String,
        /// 1-based line in the file, when the key is there.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// An environment override could not be applied.
    #[error("{file}: environment {var} (key `{key}`): {message}")]
    Env {
        /// The config file the override applies to.
        file: PathBuf,
        /// The variable.
        var: String,
        /// Dotted key path it overrides.
        key: String,
        /// What is wrong.
        message: String,
    },
}

struct LineSuffix(Option<usize>);

impl fmt::Display for LineSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(line) => write!(f, ":{line}"),
            None => Ok(()),
        }
    }
}

/// Reads `path`, applies the environment overrides in `env`, and validates the result.
pub fn load(
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: path.to_owned(),
        source,
    })?;
    let overrides = collect_overrides(env);
    let config = if overrides.is_empty() {
        parse_text(path, &text)?
    } else {
        parse_with_overrides(path, &text, &overrides)?
    };
    validate(&config).map_err(|(key, message)| {
        match overrides
            .iter()
            .find(|o| key == format!("{}.{}", o.section, o.key))
        {
            Some(o) => env_error(path, o, message),
            None => invalid(path, &text, key, message),
        }
    })?;
    Ok(config)
}

/// An override taken from the environment: `(variable, section, key, raw value)`.
struct Override {
    var: String,
    section: String,
    key: String,
    value: String,
}

fn collect_overrides(env: impl IntoIterator<Item = (String, String)>) -> Vec<Override> {
    let mut out: Vec<Override> = env
        .into_iter()
        .filter_map(|(var, value)| {
            let rest = var.strip_prefix(ENV_PREFIX)?;
            let (section, key) = rest.split_once("__")?;
            Some(Override {
                section: section.to_ascii_lowercase(),
                key: key.to_ascii_lowercase(),
                var,
                value,
            })
        })
        .collect();
    out.sort_by(|a, b| a.var.cmp(&b.var));
    out
}

fn parse_text(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let de = toml::Deserializer::parse(text).map_err(|e| toml_error(path, text, "", &e))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        toml_error(path, text, &key, e.inner())
    })
}

fn parse_with_overrides(
    path: &Path,
    text: &str,
    overrides: &[Override],
) -> Result<Config, ConfigError> {
    let mut table: toml::Table = text.parse().map_err(|e| toml_error(path, text, "", &e))?;
    for o in overrides {
        let section = table
            .entry(o.section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(section) = section.as_table_mut() else {
            return Err(env_error(path, o, "the section is not a table".into()));
        };
        section.insert(o.key.clone(), env_value(&o.value));
    }
    match serde_path_to_error::deserialize::<_, Config>(toml::Value::Table(table)) {
        Ok(config) => Ok(config),
        Err(e) => {
            let key = e.path().to_string();
            let blamed = overrides
                .iter()
                .find(|o| key == format!("{}.{}", o.section, o.key) || key == o.section);
            match blamed {
                Some(o) => Err(env_error(path, o, e.inner().message().trim().to_owned())),
                // The file itself is at fault: parse it alone to report the line.
                None => parse_text(path, text).and(Err(invalid_no_line(path, key, e.inner()))),
            }
        }
    }
}

/// An environment value is a TOML value when it parses as one, else a plain string.
fn env_value(raw: &str) -> toml::Value {
    let probe = format!("v = {raw}");
    match probe.parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

fn env_error(path: &Path, o: &Override, message: String) -> ConfigError {
    ConfigError::Env {
        file: path.to_owned(),
        var: o.var.clone(),
        key: format!("{}.{}", o.section, o.key),
        message,
    }
}

fn invalid_no_line(path: &Path, key: String, e: &toml::de::Error) -> ConfigError {
    ConfigError::Invalid {
        file: path.to_owned(),
        key,
        line: None,
        message: e.message().trim().to_owned(),
    }
}

fn toml_error(path: &Path, text: &str, key: &str, e: &toml::de::Error) -> ConfigError {
    let message = e.message().trim().to_owned();
    // An unknown key is reported against its parent; name the key itself.
    let key = match unknown_field(&message) {
        Some(field) if key.is_empty() || key == "." => field.to_owned(),
        Some(field) if !key.ends_with(&format!(".{field}")) => format!("{key}.{field}"),
        Some(_) => key.to_owned(),
        None if key == "." => String::new(),
        None => key.to_owned(),
    };
    let line = e
        .span()
        .map(|span| line_of(text, span.start))
        .or_else(|| find_key_line(text, &key));
    ConfigError::Invalid {
        file: path.to_owned(),
        key,
        line,
        message,
    }
}

fn invalid(path: &Path, text: &str, key: String, message: String) -> ConfigError {
    let line = find_key_line(text, &key);
    ConfigError::Invalid {
        file: path.to_owned(),
        key,
        line,
        message,
    }
}

/// The field name in serde's "unknown field `x`, expected …" message.
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(field, _)| field)
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The line of `section.key` in the file, found by a plain scan (enough for the flat
/// two-level layout the config uses).
fn find_key_line(text: &str, dotted: &str) -> Option<usize> {
    let (section, key) = dotted.split_once('.')?;
    let mut in_section = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_section = name.trim() == section;
            continue;
        }
        if in_section {
            if let Some((k, _)) = line.split_once('=') {
                if k.trim() == key {
                    return Some(i + 1);
                }
            }
        }
    }
    None
}

/// Checks that no type can express. Returns the offending key and what is wrong.
fn validate(c: &Config) -> Result<(), (String, String)> {
    let err = |key: &str, msg: &str| Err((key.to_owned(), msg.to_owned()));
    if !c.media.ims_port_min.is_multiple_of(2) {
        return err(
            "media.ims_port_min",
            "must be even (RTP on even ports, RTCP on the next)",
        );
    }
    if c.media.ims_port_min == 0 || c.media.ims_port_max <= c.media.ims_port_min {
        return err(
            "media.ims_port_max",
            "must be greater than media.ims_port_min (and the range not start at 0)",
        );
    }
    match c.api.auth.mode {
        AuthKind::Dev if !c.api.listen.ip().is_loopback() => {
            return err(
                "api.auth.mode",
                "dev tokens are only issued on a loopback api.listen; use jwt or introspection",
            );
        }
        AuthKind::Jwt if c.api.auth.issuer.is_none() || c.api.auth.audience.is_none() => {
            return err(
                "api.auth.issuer",
                "jwt mode needs api.auth.issuer and api.auth.audience",
            );
        }
        AuthKind::Introspection
            if c.api.auth.introspection_url.is_none()
                || c.api.auth.client_id.is_none()
                || c.api.auth.client_secret.is_none() =>
        {
            return err(
                "api.auth.introspection_url",
                "introspection mode needs introspection_url, client_id and client_secret",
            );
        }
        _ => {}
    }
    for origin in &c.api.cors.allowed_origins {
        if let Err(why) = interworking_stub::cors::OriginPattern::parse(origin) {
            return Err(("api.cors.allowed_origins".into(), why));
        }
    }
    if c.media.ims_address.is_unspecified() {
        return err(
            "media.ims_address",
            "must be a concrete address: it is written into the SDP toward IMS",
        );
    }
    if c.media.webrtc_listen.ip().is_unspecified() && c.media.webrtc_public_ip.is_none() {
        return err(
            "media.webrtc_public_ip",
            "is required when media.webrtc_listen is a wildcard address (it goes into the ICE candidate)",
        );
    }
    if c.media.webrtc_ports == WebrtcPorts::PerCall {
        let (Some(min), Some(max)) = (c.media.webrtc_port_min, c.media.webrtc_port_max) else {
            return err(
                "media.webrtc_port_min",
                "webrtc_ports = \"per_call\" needs media.webrtc_port_min and webrtc_port_max",
            );
        };
        if min == 0 || max <= min {
            return err(
                "media.webrtc_port_max",
                "must be greater than media.webrtc_port_min (and the range not start at 0)",
            );
        }
        // The last even port's RTCP port (port+1) belongs to the IMS range too.
        if min <= c.media.ims_port_max | 1 && c.media.ims_port_min <= max {
            return err(
                "media.webrtc_port_min",
                "the per-call WebRTC range overlaps the IMS-leg range",
            );
        }
    }
    if c.media.inactivity_secs == 0 {
        return err("media.inactivity_secs", "must be at least 1");
    }
    if c.sip.mode != SipMode::Lab && c.sip.next_hop.as_deref().is_none_or(str::is_empty) {
        return err(
            "sip.next_hop",
            "is required when sip.mode is pcscf or trunk",
        );
    }
    if c.sip.mode != SipMode::Lab && c.sip.domain.as_deref().is_none_or(str::is_empty) {
        return err("sip.domain", "is required when sip.mode is pcscf or trunk");
    }
    if c.sip.mode == SipMode::Pcscf && c.sip.auth_password.is_none() {
        return err(
            "sip.auth_password",
            "is required in pcscf mode (the digest password of the registrations)",
        );
    }
    if c.sip.session_expires_secs < 90 {
        return err(
            "sip.session_expires_secs",
            "must be at least 90 (RFC 4028 §4 minimum)",
        );
    }
    if !c.sip.tls_verify {
        return err(
            "sip.tls_verify",
            "turning certificate verification off is not supported; trust a lab CA instead",
        );
    }
    if c.sip.tls_listen.is_some() && (c.sip.tls_cert.is_none() || c.sip.tls_key.is_none()) {
        return err("sip.tls_listen", "needs sip.tls_cert and sip.tls_key");
    }
    if c.sip.tls_client_cert.is_some() != c.sip.tls_client_key.is_some() {
        return err(
            "sip.tls_client_cert",
            "sip.tls_client_cert and sip.tls_client_key go together",
        );
    }
    if let Some(hop) = c.sip.next_hop.as_deref().filter(|h| !h.is_empty()) {
        let Some(parsed) = sip_proxy::resolve::NextHop::parse(hop) else {
            return err("sip.next_hop", "not a host, host:port or SIP URI");
        };
        let tls = parsed.secure || parsed.transport == Some(sip_proxy::transaction::Transport::Tls);
        if tls && c.sip.tls_ca.is_none() {
            return err(
                "sip.tls_ca",
                "is required when sip.next_hop is reached over TLS (the CA its certificate chains to)",
            );
        }
    }
    if c.sip.udp_listen.is_none() && c.sip.tcp_listen.is_none() {
        return err(
            "sip.udp_listen",
            "at least one of sip.udp_listen and sip.tcp_listen must be set",
        );
    }
    if c.sip.max_message_bytes < 1500 || c.sip.max_message_bytes > 1 << 20 {
        return err("sip.max_message_bytes", "must be between 1500 and 1048576");
    }
    if c.sip.t1_ms == 0 || c.sip.t2_ms < c.sip.t1_ms {
        return err("sip.t2_ms", "T1 must be positive and T2 at least T1");
    }
    if c.log.level.trim().is_empty() {
        return err("log.level", "must not be empty");
    }
    if let Err(e) = c.log.level.parse::<tracing_subscriber::EnvFilter>() {
        return Err(("log.level".into(), format!("not a valid filter: {e}")));
    }
    let listeners = [
        ("api.listen", c.api.listen),
        ("admin.listen", c.admin.listen),
    ];
    if listeners[0].1.port() != 0 && listeners[0].1 == listeners[1].1 {
        return err("admin.listen", "must differ from api.listen");
    }
    Ok(())
}

impl Config {
    /// The effective config as TOML, secrets masked (what `check-config` prints).
    pub fn to_masked_toml(&self) -> String {
        let mut value =
            toml::Value::try_from(self).unwrap_or(toml::Value::Table(toml::Table::new()));
        mask_secrets(&mut value);
        toml::to_string_pretty(&value).unwrap_or_default()
    }
}

/// Keys whose values are never printed.
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "token", "private_key", "credential"]
        .iter()
        .any(|s| k.contains(s))
}

fn mask_secrets(value: &mut toml::Value) {
    if let toml::Value::Table(table) = value {
        for (k, v) in table.iter_mut() {
            if is_secret_key(k) && !v.is_table() {
                *v = toml::Value::String("********".into());
            } else {
                mask_secrets(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_are_toml_when_they_parse_and_strings_otherwise() {
        assert_eq!(env_value("42"), toml::Value::Integer(42));
        assert_eq!(env_value("true"), toml::Value::Boolean(true));
        assert_eq!(
            env_value("127.0.0.1:80"),
            toml::Value::String("127.0.0.1:80".into())
        );
        assert_eq!(env_value("\"x\""), toml::Value::String("x".into()));
    }

    #[test]
    fn key_lines_are_found_inside_their_section() {
        let text = "[api]\nlisten = 1\n[admin]\nlisten = 2\n";
        assert_eq!(find_key_line(text, "api.listen"), Some(2));
        assert_eq!(find_key_line(text, "admin.listen"), Some(4));
        assert_eq!(find_key_line(text, "sip.listen"), None);
    }

    #[test]
    fn secrets_are_masked_at_any_depth() {
        let mut v: toml::Value =
            "[a]\npassword = \"hunter2\"\n[a.b]\nclient_secret = \"x\"\nkeep = 1\n"
                .parse::<toml::Table>()
                .map(toml::Value::Table)
                .unwrap();
        mask_secrets(&mut v);
        let printed = toml::to_string(&v).unwrap();
        assert!(
            !printed.contains("hunter2") && !printed.contains("\"x\""),
            "{printed}"
        );
        assert!(printed.contains("keep = 1"));
    }
}
