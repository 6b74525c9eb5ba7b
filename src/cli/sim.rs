//! `eidgw sim …`: the citizen's VNeID app, simulated. Keeps a wallet directory (device key,
//! secrets, session) and plays the citizen's body from the people file (true biometrics plus
//! sensor noise).

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args, Subcommand};
use ed25519_dalek::{Signer, SigningKey};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::card::{OperatorCredentials, read_image, write_image};
use super::client::{GatewayClient, GatewayProblem, output};
use crate::biometrics::Template;
use crate::biometrics::liveness::{Action, signed_message};
use crate::population::PersonTruth;

#[derive(Debug, Args)]
pub struct SimArgs {
    /// The gateway's base URL.
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:8080",
        env = "EIDGW_GATEWAY"
    )]
    pub gateway: String,
    /// The app's wallet directory.
    #[arg(long, global = true, default_value = "wallet", env = "EIDGW_WALLET")]
    pub wallet: PathBuf,
    /// Print one JSON document on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: SimCommand,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Register a level-1 account for a person of the people file.
    Register {
        /// The 12-digit personal id of the person to register (from the people file).
        #[arg(long)]
        personal_id: String,
        /// The people file (the dev seed writes data/people.jsonl).
        #[arg(long, default_value = "data/people.jsonl")]
        people: PathBuf,
        /// Generated and kept in the wallet when omitted.
        #[arg(long, allow_hyphen_values = true)]
        password: Option<String>,
        /// The six-digit app passcode; generated and kept in the wallet when omitted.
        #[arg(long)]
        passcode: Option<String>,
    },
    /// Log in from the wallet's device.
    Login,
    /// Raise the session's authentication level with the passcode or a live face capture.
    StepUp {
        /// Step up with the wallet's passcode (authentication level 2).
        #[arg(long, conflicts_with = "face")]
        passcode: bool,
        /// Step up with a live face capture (authentication level 3).
        #[arg(long)]
        face: bool,
    },
    /// Show a presentation token (and its QR code) for a relying party.
    Present {
        /// The relying party (client_id) the token is for, e.g. `vietsky-air`.
        #[arg(long)]
        rp: String,
        /// The relying party's nonce (random text, which may start with `-`).
        #[arg(long, allow_hyphen_values = true)]
        nonce: String,
        /// Approve a bank transfer of this many VND with the presentation (RFC 9396
        /// `authorization_details`); the relying party's step-up rules apply.
        #[arg(long, requires = "creditor")]
        transfer_vnd: Option<u64>,
        /// Who receives the transfer.
        #[arg(long, requires = "transfer_vnd")]
        creditor: Option<String>,
    },
    /// The usage history.
    History,
    /// Lock the account.
    Lock,
    /// Collect a chip ID card (CCCD) for the wallet's citizen into the wallet: the gateway issues
    /// it through the operator API, as the police office would.
    Card {
        /// A test defect (see `eidgw card issue --help`).
        #[arg(long)]
        defect: Option<String>,
        #[command(flatten)]
        operator: OperatorCredentials,
    },
    /// Raise the account to level 2 from the app: the wallet's card (passive and active
    /// authentication) plus a live face capture.
    Level2,
    /// Approve a cross-device login: the code a login page shows as a QR (`eid-login:…`). The
    /// app shows who is asking and approves with the passcode; the page continues by itself.
    Scan {
        /// Random codes may begin with `-`: taken as the value, not as an option.
        #[arg(allow_hyphen_values = true)]
        qr: String,
        /// Approve with a live face capture as well as the passcode.
        #[arg(long)]
        face: bool,
    },
    /// Kiosk requests (CIBA) waiting for this citizen: who asks, the text the kiosk shows, what
    /// approving releases, any transaction, and what the approval needs.
    Requests,
    /// Approve a kiosk request with the passcode, and with a live face capture given `--face`.
    Approve {
        /// The request id `eidgw sim requests` shows.
        #[arg(allow_hyphen_values = true)]
        request_id: String,
        /// Approve with a live face capture (needed for level 3 and above).
        #[arg(long)]
        face: bool,
        /// With `--face`: the passcode as well (authentication level 4).
        #[arg(long)]
        passcode: bool,
    },
    /// Deny a kiosk request.
    Deny {
        /// The request id `eidgw sim requests` shows.
        #[arg(allow_hyphen_values = true)]
        request_id: String,
    },
    /// Show a one-time login hint (QR) for a kiosk to scan instead of typing the personal id.
    Hint,
    /// Make the wallet a ready-made sandbox persona's phone (see `eidgw personas`): its
    /// published credentials, device key and, if it has one, its card.
    Persona {
        /// The persona's role, e.g. `level-2`, `card-revoked`, `face-mismatch`.
        role: String,
        /// The people file (the dev seed writes data/people.jsonl).
        #[arg(long, default_value = "data/people.jsonl")]
        people: PathBuf,
    },
    /// Print the chip read of the wallet's card answering challenge C, for a relying party's
    /// reader to submit to `POST /v1/chip/verify`.
    ChipRead {
        /// base64url, which may start with `-`.
        #[arg(long, allow_hyphen_values = true)]
        challenge: String,
    },
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Wallet {
    pub(crate) personal_id: String,
    device_seed: String,
    pub(crate) password: String,
    passcode: String,
    people_file: PathBuf,
    #[serde(default)]
    session_token: Option<String>,
}

fn wallet_file(dir: &Path) -> PathBuf {
    dir.join("wallet.json")
}

/// The chip image of the citizen's card, kept next to the wallet.
pub(crate) fn card_file(dir: &Path) -> PathBuf {
    dir.join("card.json")
}

fn wallet_card(dir: &Path) -> anyhow::Result<crate::chip::ChipImage> {
    read_image(&card_file(dir)).map_err(|e| anyhow::anyhow!("{e} (run `eidgw sim card` first)"))
}

pub(crate) fn load(dir: &Path) -> anyhow::Result<Wallet> {
    let text = crate::keys::read_private(&wallet_file(dir))
        .map_err(|e| anyhow::anyhow!("{e} (run `eidgw sim register` first)"))?;
    Ok(serde_json::from_str(secrecy::ExposeSecret::expose_secret(
        &text,
    ))?)
}

fn save(dir: &Path, w: &Wallet) -> anyhow::Result<()> {
    crate::keys::write_private(&wallet_file(dir), &serde_json::to_vec_pretty(w)?)?;
    Ok(())
}

pub(crate) fn device(w: &Wallet) -> anyhow::Result<SigningKey> {
    let seed: [u8; 32] = URL_SAFE_NO_PAD
        .decode(&w.device_seed)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("the wallet's device key is damaged"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The wallet's session token, or how to get one.
fn logged_in(w: &Wallet) -> anyhow::Result<&str> {
    w.session_token.as_deref().ok_or_else(|| {
        anyhow::anyhow!(
            "this wallet is not logged in: run `eidgw sim login` first (with the same --wallet)"
        )
    })
}

/// An expired or ended session, said as what to do about it.
fn explain_session(err: anyhow::Error) -> anyhow::Error {
    let ended = err
        .chain()
        .filter_map(|c| c.downcast_ref::<GatewayProblem>())
        .any(|p| p.code == "invalid_session");
    if ended {
        err.context("the wallet's session has ended (expired, replaced or locked): run `eidgw sim login` again")
    } else {
        err
    }
}

/// The newest message of the outbox `after` that was not in it `before` (both newest first).
fn newest_since<'a>(before: &serde_json::Value, after: &'a serde_json::Value) -> Option<&'a str> {
    let last_seen = before.get(0);
    let newest = after.get(0)?;
    if Some(newest) == last_seen {
        return None;
    }
    newest["text"].as_str()
}

pub(crate) fn find_person(people: &Path, id: &str) -> anyhow::Result<PersonTruth> {
    use std::io::BufRead;
    if let Err(e) = crate::domain::PersonalId::parse(id) {
        anyhow::bail!("not a personal id ({} characters): {e}", id.chars().count());
    }
    let file =
        std::fs::File::open(people).map_err(|e| anyhow::anyhow!("{}: {e}", people.display()))?;
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        if line.contains(id) {
            let truth: PersonTruth = serde_json::from_str(&line)?;
            if truth.person.personal_id.as_str() == id {
                return Ok(truth);
            }
        }
    }
    anyhow::bail!(
        "{} is not in {}",
        crate::domain::PersonalId::parse(id)
            .map(|p| p.masked())
            .unwrap_or_default(),
        people.display()
    )
}

fn random_secret(bytes: usize) -> anyhow::Result<String> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

fn random_passcode() -> anyhow::Result<String> {
    loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("{e}"))?;
        let code = format!("{:06}", u32::from_le_bytes(b) % 1_000_000);
        if crate::accounts::secrets_policy::check_passcode(&code).is_ok() {
            return Ok(code);
        }
    }
}

/// A live capture: the true face plus sensor noise, answering the challenge, signed by the
/// capturing device (the app's device key, or a relying party's kiosk).
pub(crate) fn face_capture(
    truth: &PersonTruth,
    challenge: &Value,
    device: &SigningKey,
) -> anyhow::Result<Value> {
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(rand::random());
    let template: Template = truth.face.with_noise(&mut rng, 0.06);
    let actions: Vec<Action> = serde_json::from_value(challenge["actions"].clone())?;
    let encoded = template.to_base64();
    let nonce = challenge["nonce"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("challenge without nonce"))?;
    let sig = device.sign(&signed_message(nonce, &encoded, &actions));
    Ok(json!({
        "challenge_id": challenge["challenge_id"],
        "actions": actions,
        "template": encoded,
        "signature": URL_SAFE_NO_PAD.encode(sig.to_bytes()),
    }))
}

/// Keeps the session the gateway issued in the wallet and reports its strength.
fn keep_session(
    dir: &Path,
    w: &mut Wallet,
    issued: &Value,
    json: bool,
    what: &str,
) -> anyhow::Result<()> {
    w.session_token = issued["session_token"].as_str().map(str::to_owned);
    save(dir, w)?;
    let summary = json!({ "level": issued["level"], "auth_level": issued["auth_level"], "amr": issued["amr"] });
    output(json, &summary, || {
        format!(
            "{what}: level {}, auth level {}, amr {}",
            issued["level"], issued["auth_level"], issued["amr"]
        )
    });
    Ok(())
}

fn qr(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .build(),
        Err(e) => format!("(no QR code: {e})"),
    }
}

/// The factors of an approval: the wallet's passcode and/or a live face capture answering a fresh
/// session liveness challenge.
async fn approval_factors(
    gw: &GatewayClient,
    w: &Wallet,
    face: bool,
    passcode: bool,
) -> anyhow::Result<Value> {
    let mut body = json!({});
    if passcode {
        body["passcode"] = json!(w.passcode);
    }
    if face {
        let token = Some(logged_in(w)?);
        let truth = find_person(&w.people_file, &w.personal_id)?;
        let ch = gw
            .post("/v1/citizen/session/liveness-challenge", &json!({}), token)
            .await?;
        body["face_capture"] = face_capture(&truth, &ch, &device(w)?)?;
    }
    Ok(body)
}

fn describe_requests(list: &Value) -> String {
    let empty = Vec::new();
    let rows: Vec<String> = list
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|r| {
            let mut lines = vec![format!(
                "{}  {} asks: \"{}\"",
                r["request_id"].as_str().unwrap_or(""),
                r["relying_party"].as_str().unwrap_or(""),
                r["binding_message"].as_str().unwrap_or("(no message)")
            )];
            for what in r["releases"].as_array().unwrap_or(&empty) {
                lines.push(format!("    releases: {}", what.as_str().unwrap_or("")));
            }
            for t in r["transactions"].as_array().unwrap_or(&empty) {
                lines.push(format!("    transaction: {}", t.as_str().unwrap_or("")));
            }
            let needs_face = r["required"]["amr"]
                .as_array()
                .is_some_and(|a| a.iter().any(|m| m == "face"))
                || r["required"]["auth_level"].as_u64().unwrap_or(0) >= 3;
            lines.push(format!(
                "    approve with: {}",
                if needs_face { "--face" } else { "the passcode" }
            ));
            lines.join("\n")
        })
        .collect();
    if rows.is_empty() {
        "no pending requests".into()
    } else {
        rows.join("\n")
    }
}

/// `eidgw personas`: the sandbox personas of a dev gateway.
pub fn list_personas(gateway: &str, json: bool) -> anyhow::Result<()> {
    super::runtime()?.block_on(async {
        let gw = GatewayClient::new(gateway)?;
        let list = gw.get("/dev/personas", None).await?;
        output(json, &list, || {
            let empty = Vec::new();
            let mut rows = Vec::new();
            for p in list.as_array().unwrap_or(&empty) {
                rows.push(format!(
                    "{:<15} {}  {}",
                    p["role"].as_str().unwrap_or(""),
                    p["personal_id"].as_str().unwrap_or(""),
                    p["full_name"].as_str().unwrap_or("")
                ));
                for e in p["expect"].as_array().unwrap_or(&empty) {
                    rows.push(format!(
                        "    {:<28} at {}",
                        e["code"].as_str().unwrap_or(""),
                        e["at"].as_str().unwrap_or("")
                    ));
                }
            }
            rows.join("\n")
        });
        Ok(())
    })
}

pub fn run(args: SimArgs) -> anyhow::Result<()> {
    super::runtime()?
        .block_on(run_async(args))
        .map_err(explain_session)
}

async fn run_async(args: SimArgs) -> anyhow::Result<()> {
    let gw = GatewayClient::new(&args.gateway)?;
    let dir = &args.wallet;
    match args.command {
        SimCommand::Register {
            personal_id,
            people,
            password,
            passcode,
        } => {
            let truth = find_person(&people, &personal_id)?;
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("{e}"))?;
            let dev = SigningKey::from_bytes(&seed);
            let wallet = Wallet {
                personal_id: personal_id.clone(),
                device_seed: URL_SAFE_NO_PAD.encode(seed),
                password: match password {
                    Some(p) => p,
                    None => random_secret(18)?,
                },
                passcode: match passcode {
                    Some(p) => p,
                    None => random_passcode()?,
                },
                people_file: people.clone(),
                session_token: None,
            };
            let p = &truth.person;
            let outbox = format!("/dev/sms?phone={}", p.phone.as_str());
            let before = gw.get(&outbox, None).await?;
            let started = gw
                .post(
                    "/v1/citizen/registrations",
                    &json!({
                        "personal_id": p.personal_id.as_str(),
                        "full_name": p.full_name,
                        "birth_date": p.birth_date,
                        "phone": p.phone.as_str(),
                        "device_public_key": URL_SAFE_NO_PAD.encode(dev.verifying_key().as_bytes()),
                    }),
                    None,
                )
                .await?;
            let reg = started["registration_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            // The phone receives the OTP: read it from the dev outbox (the messages that arrived
            // since the start; an older code would belong to an earlier registration).
            let after = gw.get(&outbox, None).await?;
            let text = newest_since(&before, &after).ok_or_else(|| {
                anyhow::anyhow!(
                    "no code arrived: the details of {} in {} do not match this gateway's \
                     registry (is --people the people file of the gateway at {}?)",
                    p.personal_id.masked(),
                    people.display(),
                    args.gateway
                )
            })?;
            if text == crate::identity::registration::ALREADY_REGISTERED_SMS {
                anyhow::bail!(
                    "{} has an account already: log in from its wallet with `eidgw sim login \
                     --wallet DIR`, or start over with `eidgw sandbox reset` (a dev gateway, \
                     stopped)",
                    p.personal_id.masked()
                );
            }
            let otp = text
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .unwrap_or_default()
                .to_owned();
            let challenge = gw
                .post(
                    &format!("/v1/citizen/registrations/{reg}/liveness-challenge"),
                    &json!({}),
                    None,
                )
                .await?;
            let capture = face_capture(&truth, &challenge, &dev)?;
            let done = gw
                .post(
                    &format!("/v1/citizen/registrations/{reg}/complete"),
                    &json!({ "otp": otp, "password": wallet.password, "passcode": wallet.passcode, "face_capture": capture }),
                    None,
                )
                .await?;
            std::fs::create_dir_all(dir)?;
            save(dir, &wallet)?;
            output(args.json, &done, || {
                format!(
                    "registered {} at level {}; wallet in {}",
                    p.full_name,
                    done["level"],
                    dir.display()
                )
            });
        }
        SimCommand::Login => {
            let mut w = load(dir)?;
            let dev = device(&w)?;
            let ch = gw
                .post(
                    "/v1/citizen/login/challenge",
                    &json!({ "personal_id": w.personal_id }),
                    None,
                )
                .await?;
            let nonce = ch["nonce"].as_str().unwrap_or_default();
            let sig = dev.sign(&crate::identity::session::login_message(nonce));
            let s = gw
                .post(
                    "/v1/citizen/login",
                    &json!({
                        "personal_id": w.personal_id,
                        "password": w.password,
                        "challenge_id": ch["challenge_id"],
                        "device_signature": URL_SAFE_NO_PAD.encode(sig.to_bytes()),
                    }),
                    None,
                )
                .await?;
            keep_session(dir, &mut w, &s, args.json, "logged in")?;
        }
        SimCommand::StepUp { passcode, face } => {
            let mut w = load(dir)?;
            let token = Some(logged_in(&w)?.to_owned());
            let s = if face || !passcode {
                let truth = find_person(&w.people_file, &w.personal_id)?;
                let ch = gw
                    .post(
                        "/v1/citizen/session/liveness-challenge",
                        &json!({}),
                        token.as_deref(),
                    )
                    .await?;
                let capture = face_capture(&truth, &ch, &device(&w)?)?;
                gw.post(
                    "/v1/citizen/session/step-up",
                    &json!({ "face_capture": capture }),
                    token.as_deref(),
                )
                .await?
            } else {
                gw.post(
                    "/v1/citizen/session/step-up",
                    &json!({ "passcode": w.passcode }),
                    token.as_deref(),
                )
                .await?
            };
            keep_session(dir, &mut w, &s, args.json, "stepped up")?;
        }
        SimCommand::Present {
            rp,
            nonce,
            transfer_vnd,
            creditor,
        } => {
            let w = load(dir)?;
            let mut body = json!({ "client_id": rp, "nonce": nonce });
            if let (Some(amount), Some(creditor)) = (transfer_vnd, creditor) {
                let detail = crate::identity::transactions::AuthorizationDetail {
                    kind: crate::identity::transactions::BANK_TRANSFER.into(),
                    amount_vnd: amount,
                    creditor,
                    creditor_account: None,
                };
                if !args.json {
                    eprintln!("approving: {}", detail.describe());
                }
                body["authorization_details"] = json!([detail]);
            }
            let p = gw
                .post("/v1/presentations", &body, Some(logged_in(&w)?))
                .await?;
            let token = p["token"].as_str().unwrap_or_default().to_owned();
            output(args.json, &p, || {
                format!(
                    "{}\n{token}\n(valid {} s, once)",
                    qr(&token),
                    p["expires_in"]
                )
            });
        }
        SimCommand::History => {
            let w = load(dir)?;
            let h = gw.get("/v1/citizen/history", Some(logged_in(&w)?)).await?;
            output(args.json, &h, || {
                let empty = Vec::new();
                let rows: Vec<String> = h
                    .as_array()
                    .unwrap_or(&empty)
                    .iter()
                    .map(|e| {
                        let at = crate::clock::Timestamp::from_secs(e["at"].as_i64().unwrap_or(0));
                        format!(
                            "{at}  {:<24} {:<8} {}",
                            e["client_id"].as_str().unwrap_or(""),
                            e["action"].as_str().unwrap_or(""),
                            e["claims"]
                        )
                    })
                    .collect();
                if rows.is_empty() {
                    "no usage yet".into()
                } else {
                    rows.join("\n")
                }
            });
        }
        SimCommand::Lock => {
            let w = load(dir)?;
            let r = gw
                .post("/v1/citizen/lock", &json!({}), Some(logged_in(&w)?))
                .await?;
            output(args.json, &r, || {
                "account locked: every token of this citizen now fails verification".into()
            });
        }
        SimCommand::Card { defect, operator } => {
            let w = load(dir)?;
            let image =
                super::card::issue(&args.gateway, &operator, &w.personal_id, defect.as_deref())
                    .await?;
            write_image(&card_file(dir), &image)?;
            let card = json!({ "card_number": image["card_number"], "defect": image["defect"] });
            output(args.json, &card, || {
                format!(
                    "card {} collected into {}",
                    image["card_number"].as_str().unwrap_or("?"),
                    card_file(dir).display()
                )
            });
        }
        SimCommand::Level2 => {
            let w = load(dir)?;
            let card = wallet_card(dir)?;
            let token = Some(logged_in(&w)?);
            let truth = find_person(&w.people_file, &w.personal_id)?;
            let chip = gw
                .post("/v1/citizen/chip-challenge", &json!({}), token)
                .await?;
            let read = card.answer(chip["challenge_id"].as_str().unwrap_or_default())?;
            let liveness = gw
                .post("/v1/citizen/session/liveness-challenge", &json!({}), token)
                .await?;
            let capture = face_capture(&truth, &liveness, &device(&w)?)?;
            let done = gw
                .post(
                    "/v1/citizen/level2",
                    &json!({ "chip_read": read, "face_capture": capture }),
                    token,
                )
                .await?;
            output(args.json, &done, || {
                format!(
                    "level {}: chip authentic, face score {}",
                    done["level"], done["face"]["score"]
                )
            });
        }
        SimCommand::Scan { qr, face } => {
            let w = load(dir)?;
            let token = Some(logged_in(&w)?);
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.append_pair("qr", &qr);
            let asking = gw
                .get(&format!("/v1/citizen/qr-login?{}", q.finish()), token)
                .await?;
            let mut body = approval_factors(&gw, &w, face, true).await?;
            body["qr"] = json!(qr);
            let done = gw.post("/v1/citizen/qr-login", &body, token).await?;
            let answer = json!({ "relying_party": asking["relying_party"], "client_id": asking["client_id"], "scopes": asking["scopes"], "status": done["status"] });
            output(args.json, &answer, || {
                format!(
                    "approved the sign-in to {} ({})",
                    asking["relying_party"].as_str().unwrap_or("?"),
                    asking["scopes"]
                )
            });
        }
        SimCommand::Requests => {
            let w = load(dir)?;
            let list = gw
                .get("/v1/citizen/approvals", Some(logged_in(&w)?))
                .await?;
            output(args.json, &list, || describe_requests(&list));
        }
        SimCommand::Approve {
            request_id,
            face,
            passcode,
        } => {
            let w = load(dir)?;
            let mut body = approval_factors(&gw, &w, face, passcode || !face).await?;
            body["answer"] = json!("approve");
            let done = gw
                .post(
                    &format!("/v1/citizen/approvals/{request_id}"),
                    &body,
                    Some(logged_in(&w)?),
                )
                .await?;
            output(args.json, &done, || {
                format!("request {request_id} approved")
            });
        }
        SimCommand::Deny { request_id } => {
            let w = load(dir)?;
            let done = gw
                .post(
                    &format!("/v1/citizen/approvals/{request_id}"),
                    &json!({ "answer": "deny" }),
                    Some(logged_in(&w)?),
                )
                .await?;
            output(args.json, &done, || format!("request {request_id} denied"));
        }
        SimCommand::Hint => {
            let w = load(dir)?;
            let h = gw
                .post("/v1/citizen/login-hint", &json!({}), Some(logged_in(&w)?))
                .await?;
            let token = h["login_hint_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            output(args.json, &h, || {
                format!(
                    "{}\n{token}\n(for the kiosk's login_hint_token; valid {} s, once)",
                    qr(&token),
                    h["expires_in"]
                )
            });
        }
        SimCommand::Persona { role, people } => {
            let list = gw.get("/dev/personas", None).await?;
            let persona = list
                .as_array()
                .and_then(|a| a.iter().find(|p| p["role"] == role.as_str()))
                .ok_or_else(|| anyhow::anyhow!("no persona {role}: see `eidgw personas`"))?;
            let creds = &persona["credentials"];
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            if creds.is_null() {
                anyhow::bail!("{role} is a registry person without an account: use `sim register`");
            }
            let wallet = Wallet {
                personal_id: text(&persona["personal_id"]),
                device_seed: text(&creds["device_seed"]),
                password: text(&creds["password"]),
                passcode: text(&creds["passcode"]),
                people_file: people,
                session_token: None,
            };
            std::fs::create_dir_all(dir)?;
            save(dir, &wallet)?;
            let card = match gw.get(&format!("/dev/personas/{role}/card"), None).await {
                Ok(image) => {
                    write_image(&card_file(dir), &image)?;
                    true
                }
                Err(_) => false,
            };
            let done = json!({ "role": role, "personal_id": persona["personal_id"], "card": card, "expect": persona["expect"] });
            output(args.json, &done, || {
                format!(
                    "wallet {} is now {} ({}){}",
                    dir.display(),
                    persona["full_name"].as_str().unwrap_or(""),
                    role,
                    if card { ", with the card" } else { "" }
                )
            });
        }
        SimCommand::ChipRead { challenge } => {
            let read = wallet_card(dir)?.answer(&challenge)?;
            println!("{}", serde_json::to_string(&read)?);
        }
    }
    Ok(())
}
