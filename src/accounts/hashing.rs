//! argon2id hashing of passwords and passcodes, off the async workers and with bounded
//! concurrency, so a burst of logins queues instead of starving every other request.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

/// argon2id parameters, in one place. The default is OWASP's: m = 19 MiB, t = 2, p = 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Policy {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Argon2Policy {
    pub const OWASP: Argon2Policy = Argon2Policy {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };

    /// Weak parameters that make tests fast. Never use outside tests.
    pub const fn danger_test_minimum() -> Self {
        Argon2Policy {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn argon2(&self) -> Result<Argon2<'static>, HashError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| HashError(format!("argon2 parameters: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes and verifies secrets on the blocking pool, at most `concurrency` at a time.
#[derive(Clone)]
pub struct SecretHasher {
    policy: Argon2Policy,
    permits: Arc<Semaphore>,
    /// Verified when there is no account, so that "unknown" costs the same as "wrong".
    dummy: Arc<String>,
}

impl SecretHasher {
    pub fn new(policy: Argon2Policy, concurrency: usize) -> Result<Self, HashError> {
        let dummy = hash_now(&policy, "not-a-real-password-but-the-same-cost")?;
        Ok(Self {
            policy,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy: Arc::new(dummy),
        })
    }

    pub fn policy(&self) -> Argon2Policy {
        self.policy
    }

    /// Runs `work` on the blocking pool once a hashing permit is free.
    async fn bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| HashError(e.to_string()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| HashError(e.to_string()))?
    }

    pub async fn hash(&self, secret: &SecretString) -> Result<String, HashError> {
        let policy = self.policy;
        let secret = secret.clone();
        self.bounded(move || hash_now(&policy, secret.expose_secret()))
            .await
    }

    /// `true` if `secret` matches `phc`; with no stored hash, checks a dummy and answers `false`.
    pub async fn verify(
        &self,
        secret: &SecretString,
        phc: Option<&str>,
    ) -> Result<bool, HashError> {
        let policy = self.policy;
        let (target, real) = match phc {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy.as_ref().clone(), false),
        };
        let secret = secret.clone();
        let ok = self
            .bounded(move || -> Result<bool, HashError> {
                let parsed = PasswordHash::new(&target).map_err(|e| HashError(e.to_string()))?;
                Ok(policy
                    .argon2()?
                    .verify_password(secret.expose_secret().as_bytes(), &parsed)
                    .is_ok())
            })
            .await?;
        Ok(ok && real)
    }
}

fn hash_now(policy: &Argon2Policy, secret: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| HashError(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
    Ok(policy
        .argon2()?
        .hash_password(secret.as_bytes(), &salt)
        .map_err(|e| HashError(e.to_string()))?
        .to_string())
}

/// Hashes synchronously with `policy` (benchmarks compare the gateway with this bare rate).
pub fn bare_hash(policy: &Argon2Policy, secret: &str) -> Result<String, HashError> {
    hash_now(policy, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_the_policy_and_verify() {
        let h = SecretHasher::new(Argon2Policy::danger_test_minimum(), 2).unwrap();
        let secret = SecretString::from("correct horse");
        let phc = h.hash(&secret).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
        assert!(h.verify(&secret, Some(&phc)).await.unwrap());
        assert!(
            !h.verify(&SecretString::from("wrong"), Some(&phc))
                .await
                .unwrap()
        );
        assert!(
            !h.verify(&secret, None).await.unwrap(),
            "no account never verifies"
        );
    }
}
