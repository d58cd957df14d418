//! Password hashing with Argon2id (OWASP parameters, the crate's defaults) and the password policy.
//!
//! **Bounded hashing.** One Argon2 call needs 19 MiB. Every hash and verify a request causes runs
//! on a small pool of dedicated threads ([`Hashing`]), each reusing one memory buffer, so the
//! memory for hashing is at most `threads × 19 MiB` however many requests arrive. A request
//! waits at most `wait` for a free thread and is then answered `Error::Busy` (503 with
//! Retry-After). A thread that has had nothing to do for a moment gives its buffer back to the
//! operating system (`munmap`), so a flood leaves no memory behind. Browsers that signed in
//! before (device cookie) have a lane of their own, so a flood does not keep them out.
//!
//! **Policy.** At least 10 characters, and not guessable: zxcvbn's estimate must be at least
//! "safely unguessable" (score 3, ~10^10 guesses), with common Swedish words as extra dictionary.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHasher, Version};
use tokio::sync::Semaphore;

use crate::domain::InvalidValue;
use crate::domain::Reason;
use crate::error::{Error, Result};

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 256;

/// Words zxcvbn's (English) dictionaries do not know but Swedish users reach for first.
const SWEDISH_COMMON: &[&str] = &[
    "lösenord",
    "losenord",
    "losen",
    "lösen",
    "sommar",
    "sommaren",
    "vinter",
    "vintern",
    "våren",
    "hösten",
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
    "måndag",
    "fredag",
    "kommun",
    "kommunen",
    "välkommen",
    "valkommen",
    "hejsan",
    "sverige",
    "stockholm",
    "göteborg",
    "malmö",
    "kalle",
    "anka",
    "kattenmissan",
    "hemligt",
    "hemlighet",
    "qwerty",
    "asdfgh",
    "kontaktcenter",
    "arendo",
    "ärendo",
    "ärende",
    "arende",
    "lösenordet",
    "bytmig",
    "byt-mig",
    "nyttlösenord",
];

/// A password that meets the policy. Its `Debug` never shows it.
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(s: &str) -> Result<NewPassword, InvalidValue> {
        let n = s.chars().count();
        if n < MIN_LEN {
            return Err(InvalidValue::new(
                "password",
                Reason::TooShort { min: MIN_LEN },
            ));
        }
        if n > MAX_LEN {
            return Err(InvalidValue::new(
                "password",
                Reason::TooLong { max: MAX_LEN },
            ));
        }
        if s.trim().is_empty() {
            return Err(InvalidValue::new("password", Reason::OnlySpaces));
        }
        if zxcvbn::zxcvbn(s, SWEDISH_COMMON).score() < zxcvbn::Score::Three {
            return Err(InvalidValue::new("password_strength", Reason::PasswordWeak));
        }
        Ok(NewPassword(s.to_string()))
    }

    /// A random password for new accounts (16 characters, no look-alikes).
    pub fn generate() -> NewPassword {
        const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        use rand::Rng;
        let mut rng = rand::rng();
        let s: String = (0..16)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        NewPassword(s)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Hash on the calling thread (CLI, demo data, seeding: not reachable by a request).
    pub fn hash(&self) -> String {
        Argon2::default()
            .hash_password(self.0.as_bytes())
            .expect("argon2 with default parameters cannot fail")
            .to_string()
    }

    /// Hash on the bounded pool (everything a request causes).
    pub async fn hash_bounded(self) -> Result<HashedPassword> {
        hashing()
            .run(Lane::General, move |mem| hash_with(self.expose(), mem))
            .await
            .map(HashedPassword)
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword([redacted])")
    }
}

/// An Argon2id PHC string made from a [`NewPassword`]; to be stored.
#[derive(Clone)]
pub struct HashedPassword(String);

impl HashedPassword {
    pub fn of(p: &NewPassword) -> HashedPassword {
        HashedPassword(p.hash())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for HashedPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashedPassword([redacted])")
    }
}

/// Argon2 work memory, mapped from the operating system and unmapped on drop, so that it really
/// goes back (glibc keeps freed 19 MiB blocks in per-thread arenas).
struct Memory {
    ptr: *mut Block,
    blocks: usize,
}

// SAFETY: the mapping is owned by exactly one `Memory`; nothing else aliases it.
unsafe impl Send for Memory {}

impl Memory {
    fn map(blocks: usize) -> Option<Memory> {
        let len = blocks * std::mem::size_of::<Block>();
        // SAFETY: an anonymous private mapping; checked for failure below. Zeroed pages are a
        // valid `[Block]` (arrays of u64).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        (ptr != libc::MAP_FAILED).then(|| Memory {
            ptr: ptr.cast(),
            blocks,
        })
    }

    fn slice(&mut self, blocks: usize) -> &mut [Block] {
        // SAFETY: `ptr` is a live mapping of `self.blocks` blocks, borrowed mutably through self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, blocks.min(self.blocks)) }
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping made in `map`.
        unsafe {
            libc::munmap(self.ptr.cast(), self.blocks * std::mem::size_of::<Block>());
        }
    }
}

/// A pool thread's reusable work memory (mapped on first use, unmapped when idle).
pub struct Work {
    mem: Option<Memory>,
}

impl Work {
    fn blocks(&mut self, n: usize) -> Option<&mut [Block]> {
        if self.mem.as_ref().is_none_or(|m| m.blocks < n) {
            self.mem = None;
            self.mem = Some(Memory::map(n)?);
        }
        self.mem.as_mut().map(|m| m.slice(n))
    }
}

/// Largest memory cost a stored hash may ask for (64 MiB); beyond it verification fails.
const MAX_M_COST: u32 = 64 * 1024;

fn hash_with(password: &str, work: &mut Work) -> String {
    let params = Params::default();
    let salt_bytes: [u8; 16] = rand::random();
    let salt = Salt::new(&salt_bytes).expect("16 bytes is a valid salt");
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let computed = match work.blocks(params.block_count()) {
        Some(mem) => {
            argon.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, mem)
        }
        None => argon.hash_password_into(password.as_bytes(), &salt, &mut out),
    };
    computed.expect("argon2 with default parameters cannot fail");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).expect("default parameters encode"),
        salt: Some(salt),
        hash: Some(Output::new(&out).expect("32 bytes is a valid output")),
    }
    .to_string()
}

/// Check `password` against a stored PHC string, in the given work memory.
fn verify_with(password: &str, stored: &str, work: &mut Work) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_M_COST {
        return false;
    }
    let blocks = params.block_count();
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params);
    let ok = match work.blocks(blocks) {
        Some(mem) => argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, mem),
        None => argon.hash_password_into(password.as_bytes(), salt, &mut out),
    };
    // `Output`'s equality is constant-time.
    ok.is_ok() && Output::new(&out).is_ok_and(|o| &o == expected)
}

/// The stored hash unknown accounts are checked against, so they cost the same work.
fn dummy() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| NewPassword("not-a-real-password-placeholder".into()).hash())
}

/// Constant work whether or not the account exists: unknown accounts verify against a dummy hash.
/// On the calling thread (tests, CLI); requests use [`verify_bounded`].
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let mut work = Work { mem: None };
    let ok = verify_with(password, stored.unwrap_or(dummy()), &mut work);
    ok && stored.is_some()
}

/// Which of the pool's lanes a verification waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Everyone.
    General,
    /// Sign-ins from a browser with a valid device cookie for the account.
    Trusted,
}

/// [`verify`] on the bounded pool. `Error::Busy` if no thread was free within the pool's wait.
pub async fn verify_bounded(password: String, stored: Option<String>, lane: Lane) -> Result<bool> {
    let target = stored.clone().unwrap_or_else(|| dummy().to_string());
    let ok = hashing()
        .run(lane, move |work| verify_with(&password, &target, work))
        .await?;
    Ok(ok && stored.is_some())
}

type Job = Box<dyn FnOnce(&mut Work) + Send>;

struct LanePool {
    permits: Arc<Semaphore>,
    jobs: SyncSender<Job>,
}

impl LanePool {
    fn start(name: &str, threads: usize, idle: Duration) -> LanePool {
        let (tx, rx) = sync_channel::<Job>(threads);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || worker(&rx, idle))
                .expect("cannot start a password-hashing thread");
        }
        LanePool {
            permits: Arc::new(Semaphore::new(threads)),
            jobs: tx,
        }
    }
}

fn worker(rx: &Mutex<Receiver<Job>>, idle: Duration) {
    let mut work = Work { mem: None };
    loop {
        let next = {
            let Ok(rx) = rx.lock() else { return };
            rx.recv_timeout(idle)
        };
        match next {
            Ok(job) => job(&mut work),
            // Nothing to do for a while: give the memory back.
            Err(RecvTimeoutError::Timeout) => work.mem = None,
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// The bounded hashing pool (one per process: its bound is the machine's memory).
pub struct Hashing {
    general: LanePool,
    trusted: LanePool,
    wait: Duration,
    pub threads: usize,
}

/// How the pool is sized; set once at start (`auth.hash_threads`, `auth.hash_wait_ms`).
#[derive(Debug, Clone, Copy)]
pub struct HashingConfig {
    /// 0: one per core, but no more than a sixteenth of the available memory allows.
    pub threads: usize,
    pub wait: Duration,
}

static CONFIG: OnceLock<HashingConfig> = OnceLock::new();
static POOL: OnceLock<Hashing> = OnceLock::new();

/// Size the pool (first call wins; before the first hash, or it has no effect).
pub fn configure(c: HashingConfig) {
    let _ = CONFIG.set(c);
}

/// Threads for `configured` (0 = automatic): cores, bounded by 1/16 of MemAvailable per 19 MiB.
pub fn auto_threads(configured: usize) -> usize {
    if configured > 0 {
        return configured.min(64);
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let by_memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<usize>().ok())
        })
        .map_or(usize::MAX, |kib| kib / 16 / (19 * 1024));
    cores.min(by_memory).clamp(1, 16)
}

pub fn hashing() -> &'static Hashing {
    POOL.get_or_init(|| {
        let c = CONFIG.get().copied().unwrap_or(HashingConfig {
            threads: 0,
            wait: Duration::from_millis(1000),
        });
        Hashing::new(auto_threads(c.threads), c.wait, Duration::from_secs(2))
    })
}

impl Hashing {
    fn new(threads: usize, wait: Duration, idle: Duration) -> Hashing {
        Hashing {
            general: LanePool::start("argon2", threads, idle),
            trusted: LanePool::start("argon2-known", 1, idle),
            wait,
            threads,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        lane: Lane,
        f: impl FnOnce(&mut Work) -> T + Send + 'static,
    ) -> Result<T> {
        let pool = match lane {
            Lane::General => &self.general,
            Lane::Trusted => &self.trusted,
        };
        let busy = || Error::Busy {
            retry_after_secs: 2,
        };
        let permit = tokio::time::timeout(self.wait, pool.permits.clone().acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |work| {
            let _ = tx.send(f(work));
            drop(permit);
        });
        // A permit means a thread is free (permits = threads), so this does not block.
        pool.jobs
            .send(job)
            .map_err(|_| Error::Internal("password hashing stopped".into()))?;
        rx.await
            .map_err(|_| Error::Internal("password hashing failed".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let p = NewPassword::parse("korrekt häst batteri").unwrap();
        let h = p.hash();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("korrekt häst batteri", Some(&h)));
        assert!(!verify("fel lösenord!", Some(&h)));
        assert!(!verify("korrekt häst batteri", None));
        // A hash made with reused memory verifies with the crate's own verifier and ours.
        let mut work = Work { mem: None };
        let h2 = hash_with("korrekt häst batteri", &mut work);
        assert!(verify("korrekt häst batteri", Some(&h2)));
        use argon2::PasswordVerifier;
        let parsed = PasswordHash::new(&h2).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"korrekt h\xc3\xa4st batteri", &parsed)
                .is_ok()
        );
        assert!(!verify_with("fel", &h2, &mut work));
    }

    #[test]
    fn policy() {
        assert!(NewPassword::parse("kort").is_err());
        assert!(NewPassword::parse("          ").is_err());
        for weak in [
            "aaaaaaaaaa",
            "password123",
            "sommaren2024",
            "qwertyuiop",
            "1234567890",
            "Lösenord123!",
        ] {
            let e = NewPassword::parse(weak).unwrap_err();
            assert_eq!(e.field, "password_strength", "{weak}");
        }
        assert!(NewPassword::parse("Blåbärssoppa i Vasaloppet 2026").is_ok());
        assert!(NewPassword::parse("korrekt häst batteri").is_ok());
        assert_eq!(NewPassword::generate().expose().len(), 16);
        assert!(NewPassword::parse(NewPassword::generate().expose()).is_ok());
        assert_eq!(
            format!("{:?}", NewPassword::generate()),
            "NewPassword([redacted])"
        );
    }

    fn rss_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap()
    }

    /// 64 verifications at once on a pool of 2: the memory grows by at most two buffers, some
    /// callers are told to come back (Busy), and when the pool is idle the memory is given back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn hashing_memory_is_bounded_and_given_back() {
        let stored = NewPassword::parse("korrekt häst batteri").unwrap().hash();
        let pool: &'static Hashing = Box::leak(Box::new(Hashing::new(
            2,
            Duration::from_millis(300),
            Duration::from_millis(200),
        )));
        let before = rss_kib();
        let peak = Arc::new(std::sync::atomic::AtomicU64::new(before));
        let sampler = {
            let peak = peak.clone();
            tokio::spawn(async move {
                loop {
                    peak.fetch_max(rss_kib(), std::sync::atomic::Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        };
        let mut tasks = vec![];
        for _ in 0..64 {
            let stored = stored.clone();
            tasks.push(tokio::spawn(async move {
                pool.run(Lane::General, move |w| verify_with("fel", &stored, w))
                    .await
            }));
        }
        let mut busy = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(ok) => assert!(!ok),
                Err(Error::Busy { .. }) => busy += 1,
                Err(e) => panic!("{e}"),
            }
        }
        // The trusted lane still answers while the general one is full.
        assert!(
            pool.run(Lane::Trusted, move |w| verify_with(
                "korrekt häst batteri",
                &stored,
                w
            ))
            .await
            .unwrap()
        );
        tokio::time::sleep(Duration::from_millis(800)).await;
        sampler.abort();
        let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
        let after = rss_kib();
        assert!(busy > 0, "some callers waited too long and were told so");
        assert!(
            peak - before < 3 * 19 * 1024 + 12 * 1024,
            "peak grew by {} KiB",
            peak - before
        );
        assert!(
            after < before + 8 * 1024,
            "memory given back: before {before} KiB, after {after} KiB"
        );
    }
}
