//! argon2id hashing of passwords and passcodes, off the async workers and with bounded
//! concurrency, so a burst of logins queues instead of starving every other request.
//!
//! Hashing runs on a few dedicated threads, each keeping its argon2 working memory (19 MiB with
//! the default policy) between jobs: allocating and faulting in that memory on every login costs
//! about a sixth of the hash itself.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};

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

/// A hashing thread's argon2 working memory, reused from one job to the next.
pub type WorkingMemory = Vec<Block>;

type Job = Box<dyn FnOnce(&mut WorkingMemory) + Send>;

/// Hashes and verifies secrets on `concurrency` dedicated threads; further jobs queue.
#[derive(Clone)]
pub struct SecretHasher {
    policy: Argon2Policy,
    jobs: mpsc::Sender<Job>,
    /// Verified when there is no account, so that "unknown" costs the same as "wrong".
    dummy: Arc<String>,
}

impl SecretHasher {
    pub fn new(policy: Argon2Policy, concurrency: usize) -> Result<Self, HashError> {
        let dummy = hash_now(&policy, "not-a-real-password-but-the-same-cost")?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..concurrency.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || hashing_thread(&queue))
                .map_err(|e| HashError(format!("cannot start a hashing thread: {e}")))?;
        }
        Ok(Self {
            policy,
            jobs,
            dummy: Arc::new(dummy),
        })
    }

    pub fn policy(&self) -> Argon2Policy {
        self.policy
    }

    /// Runs `work` on a hashing thread, waiting for a free one.
    async fn on_hashing_thread<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut WorkingMemory) -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |memory| {
                let _ = reply.send(work(memory));
            }))
            .map_err(|_| HashError("the hashing threads have stopped".into()))?;
        answer
            .await
            .map_err(|_| HashError("a hashing thread dropped its job".into()))?
    }

    pub async fn hash(&self, secret: &SecretString) -> Result<String, HashError> {
        let policy = self.policy;
        let secret = secret.clone();
        self.on_hashing_thread(move |_| hash_now(&policy, secret.expose_secret()))
            .await
    }

    /// `true` if `secret` matches `phc`; with no stored hash, checks a dummy and answers `false`.
    pub async fn verify(
        &self,
        secret: &SecretString,
        phc: Option<&str>,
    ) -> Result<bool, HashError> {
        let (target, real) = match phc {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy.as_ref().clone(), false),
        };
        let secret = secret.clone();
        let ok = self
            .on_hashing_thread(move |memory| {
                verify_with_memory(memory, &target, secret.expose_secret().as_bytes())
            })
            .await?;
        Ok(ok && real)
    }
}

/// How long a hashing thread keeps its working memory without a job: long enough to serve a
/// stream of logins without allocating, short enough that an idle gateway gives it back.
const KEEP_MEMORY: std::time::Duration = std::time::Duration::from_secs(10);

fn hashing_thread(queue: &Mutex<mpsc::Receiver<Job>>) {
    let mut memory = WorkingMemory::new();
    loop {
        // Only one idle thread waits on the channel at a time; the others wait for the lock.
        // Each waits at most KEEP_MEMORY, so every idle thread in turn frees its memory.
        let job = match queue.lock() {
            Ok(receiver) => receiver.recv_timeout(KEEP_MEMORY),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(&mut memory),
            Err(mpsc::RecvTimeoutError::Timeout) => memory = WorkingMemory::new(),
            // Every hasher handle is gone: the application has stopped.
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Verifies `secret` against a PHC string with the parameters the string carries, in `memory`
/// (grown as needed). The comparison of the outputs is constant-time (`Output`'s equality).
pub fn verify_with_memory(
    memory: &mut WorkingMemory,
    phc: &str,
    secret: &[u8],
) -> Result<bool, HashError> {
    let err = |e: &dyn std::fmt::Display| HashError(e.to_string());
    let parsed = PasswordHash::new(phc).map_err(|e| err(&e))?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| err(&e))?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| err(&e))?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(|e| err(&e))?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(HashError("stored hash has no salt or no output".into()));
    };
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes).map_err(|e| err(&e))?;
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(secret, salt, &mut out, &mut memory[..])
        .map_err(|e| err(&e))?;
    Ok(Output::new(&out).map_err(|e| err(&e))? == expected)
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
