//! Ready-made sandbox citizens (dev mode only): one account per [`PersonaState`], so a
//! relying-party developer can see every outcome without staging it. Their credentials are
//! published (synthetic people); production never runs this.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use sha2::Digest;

use super::IdentityError;
use super::cards::{self, IssueCardRequest};
use crate::accounts::{Account, AccountStatus, BoundDevice};
use crate::chip::ChipImage;
use crate::chip::issuance::Defect;
use crate::domain::{Level, PersonalId};
use crate::population::Persona;
use crate::population::personas::{PersonaState, SandboxCredentials};
use crate::services::Services;
use crate::store::{StoreError, Table, get_json, put_json};

/// The published password and passcode of every sandbox persona.
pub const PASSWORD: &str = "Sandbox persona 2026!";
pub const PASSCODE: &str = "258036";
const PREPARED_KEY: &str = "dev_state_personas_v1";

/// The persona's phone key seed: derived from the personal id by a published rule, so the
/// sandbox wallet can be rebuilt anywhere.
pub fn device_seed(personal_id: &PersonalId) -> [u8; 32] {
    sha2::Sha256::digest(format!(
        "eid-gateway sandbox persona device v1\n{}",
        personal_id.as_str()
    ))
    .into()
}

fn public_key(seed: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(
        ed25519_dalek::SigningKey::from_bytes(seed)
            .verifying_key()
            .as_bytes(),
    )
}

fn card_key(role: &str) -> String {
    format!("dev_persona_card:{role}")
}

/// The chip image of a persona's card (it holds the chip's private key: sandbox only).
pub async fn card(services: &Services, role: &str) -> Result<Option<ChipImage>, IdentityError> {
    Ok(get_json(services.store.as_ref(), Table::Meta, &card_key(role)).await?)
}

/// Makes the persona accounts once per store: accounts, cards with their defects, the swapped
/// face, the lock, the other phone. Then publishes their credentials with the personas.
pub async fn prepare(services: &Services) -> Result<(), IdentityError> {
    let store = services.store.as_ref();
    if get_json::<bool>(store, Table::Meta, PREPARED_KEY)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let mut personas = services.registry.personas().await?;
    let password = services.hasher.hash(&SecretString::from(PASSWORD)).await?;
    let passcode = services.hasher.hash(&SecretString::from(PASSCODE)).await?;
    // A face that is nobody's: the "outdated photo" of the face-mismatch persona.
    let stranger_face = match personas.iter().find(|p| p.state.is_none()) {
        Some(p) => services
            .registry
            .templates(&parse(p)?)
            .await?
            .map(|t| t.face),
        None => None,
    };
    for persona in personas.iter_mut() {
        let Some(state) = persona.state else {
            continue;
        };
        let id = parse(persona)?;
        let seed = device_seed(&id);
        let Some(person) = services.registry.person(&id).await? else {
            continue;
        };
        let now = services.clock.now();
        let mut account = Account {
            personal_id: id.clone(),
            level: if state == PersonaState::Level1 {
                Level::One
            } else {
                Level::Two
            },
            password_hash: password.clone(),
            passcode_hash: passcode.clone(),
            device: BoundDevice {
                public_key: public_key(&seed),
                bound_at: now,
            },
            phone: person.phone.clone(),
            status: AccountStatus::Active,
            failures: Default::default(),
            session_epoch: 0,
            created_at: now,
        };
        if state == PersonaState::FaceMismatch
            && let (Some(face), Some(mut templates)) = (
                stranger_face.clone(),
                services.registry.templates(&id).await?,
            )
        {
            templates.face = face;
            services
                .registry
                .enrol_batch(vec![(person.clone(), templates)])
                .await?;
        }
        if state != PersonaState::Level1 {
            let defect = match state {
                PersonaState::CardRevoked => Some(Defect::RevokedCard),
                PersonaState::ClonedChip => Some(Defect::Cloned),
                PersonaState::TamperedChip => Some(Defect::TamperedDg13),
                PersonaState::ExpiredCard => Some(Defect::ExpiredCard),
                _ => None,
            };
            let request = IssueCardRequest {
                personal_id: id.as_str().to_owned(),
                defect,
            };
            let image = cards::issue(services, "sandbox", request).await?;
            put_json(store, Table::Meta, &card_key(&persona.role), &image).await?;
        }
        match state {
            PersonaState::Locked => account.status = AccountStatus::Locked { at: now },
            PersonaState::DeviceChanged => {
                // Bound to a phone nobody was given: the published wallet's phone is the old one.
                let mut other = [0u8; 32];
                getrandom::fill(&mut other)
                    .map_err(|e| StoreError::Storage(format!("no randomness: {e}")))?;
                account.device.public_key = public_key(&other);
                account.session_epoch = 1;
            }
            _ => {}
        }
        services.accounts.save(&account).await?;
        persona.credentials = Some(SandboxCredentials {
            password: PASSWORD.into(),
            passcode: PASSCODE.into(),
            device_seed: URL_SAFE_NO_PAD.encode(seed),
        });
    }
    services.registry.set_personas(&personas).await?;
    put_json(store, Table::Meta, PREPARED_KEY, &true).await?;
    tracing::info!("sandbox persona accounts prepared");
    Ok(())
}

fn parse(p: &Persona) -> Result<PersonalId, IdentityError> {
    PersonalId::parse(&p.personal_id)
        .map_err(|e| IdentityError::invalid("invalid_personal_id", e.to_string()))
}
