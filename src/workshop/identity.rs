//! Who may act as a learner, and who may see the whole room.
//!
//! A learner proves a name is theirs with a credential, `name:key`. The key
//! is 16 hex digits: a random 32-bit *claim number*, drawn when the name is
//! given out (a new browser's first page, or a rename), followed by the
//! first 4 bytes of HMAC-SHA256(room secret, name and claim number). The
//! room secret is 32 random bytes in a file beside the progress file, made
//! (readable by its owner only) at the first start and read again at every
//! later one.
//!
//! Why this shape:
//! - **The MAC** lets the app refuse any key it did not give out, without
//!   storing anything for names that were only offered (a link preview
//!   gets a name and never comes back).
//! - **The claim number** makes each hand-out of a name different. The
//!   first time a credential is used, its name is *claimed* with that
//!   number (kept with the learner, and in the progress file), and from
//!   then on only that number opens it. So a key obtained for a name
//!   before someone else chose it, or kept after leaving it, opens nothing.
//! - **64 bits** in all are short enough to read in a curl command and far
//!   beyond guessing over a network; the MAC check is constant-time
//!   (`verify_truncated_left`), so response times give nothing away.
//!
//! The instructor's key, when the settings do not name one, is derived from
//! the same secret: random for each room, and the same after a restart, so
//! the instructor's open progress page keeps working across the restart the
//! persistence exercise asks for.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::LearnerName;

/// Bytes of randomness in a room secret.
const SECRET_BYTES: usize = 32;

/// Bytes of a learner's key (written as twice as many hex digits): the
/// claim number, then the MAC.
const LEARNER_KEY_BYTES: usize = 8;
const CLAIM_BYTES: usize = 4;

/// Bytes of a derived instructor key (written as twice as many hex digits).
const INSTRUCTOR_KEY_BYTES: usize = 16;

/// What each MAC is for, so that no learner's key can ever equal the
/// instructor's (a learner name cannot contain a NUL byte).
const LEARNER_PURPOSE: &[u8] = b"learner\0";
const PLAN_PURPOSE: &[u8] = b"plan\0";
const INSTRUCTOR_PURPOSE: &[u8] = b"instructor\0";
const ROOM_PURPOSE: &[u8] = b"room\0";

/// The room secret's file: `<progress file>.secret`, beside the progress
/// file and its `.lock`.
pub fn room_secret_path(progress_path: &Path) -> PathBuf {
    let mut path = progress_path.as_os_str().to_owned();
    path.push(".secret");
    PathBuf::from(path)
}

/// The secret that every learner's key and the derived instructor key come
/// from. Never printed: `Debug` is deliberately not derived.
pub struct RoomSecret([u8; SECRET_BYTES]);

impl RoomSecret {
    /// The secret kept at `path`, made there first if there is none yet.
    ///
    /// A file of the wrong length is refused rather than replaced: it was
    /// not written by us whole (we write a finished file into place), and
    /// replacing it would silently change every learner's key.
    pub fn open_or_create(path: &Path) -> std::io::Result<Self> {
        match read_secret(path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => create_secret(path),
            read => read,
        }
    }

    /// The secret beside the progress file at `progress_path`, or, if that
    /// file cannot be read or made, a new one for this run only (with a
    /// warning): keys that change at the next start beat refusing to teach.
    pub fn for_progress_file(progress_path: &Path) -> Self {
        let path = room_secret_path(progress_path);
        match Self::open_or_create(&path) {
            Ok(secret) => secret,
            Err(error) => {
                log::warn!(
                    "learner keys will change at the next start: the room secret {} cannot be \
                     used ({error})",
                    path.display()
                );
                Self(random_bytes())
            }
        }
    }

    /// A new credential for `name`, with a fresh claim number.
    pub fn issue(&self, name: &LearnerName) -> Credential {
        let random = random_bytes();
        let claim = u32::from_be_bytes(
            random[..CLAIM_BYTES]
                .try_into()
                .expect("the secret's randomness is longer than a claim number"),
        );
        self.credential(name, claim)
    }

    /// The credential for `name` under claim number `claim`.
    pub fn credential(&self, name: &LearnerName, claim: u32) -> Credential {
        let tag = self.learner_mac(name, claim).finalize().into_bytes();
        let mut key = claim.to_be_bytes().to_vec();
        key.extend_from_slice(&tag[..LEARNER_KEY_BYTES - CLAIM_BYTES]);
        Credential {
            name: name.clone(),
            claim,
            key: hex(&key),
        }
    }

    /// The name and claim number a credential (`name:key`) proves this app
    /// gave out, or why it proves none. Whether that claim still holds the
    /// name is the workshop's to say.
    pub fn verify(&self, credential: &str) -> Result<(LearnerName, u32), CredentialRefusal> {
        let (name, key) = match credential.split_once(':') {
            Some((name, key)) => (name, Some(key)),
            None => (credential, None),
        };
        let name = LearnerName::parse(name).map_err(CredentialRefusal::UnusableName)?;
        let Some(key) = key else {
            return Err(CredentialRefusal::MissingKey(name));
        };
        let Some(key) = decode_learner_key(key.trim()) else {
            return Err(CredentialRefusal::WrongKey(name));
        };
        let claim = u32::from_be_bytes(
            key[..CLAIM_BYTES]
                .try_into()
                .expect("a learner key starts with its claim number"),
        );
        let genuine = self
            .learner_mac(&name, claim)
            .verify_truncated_left(&key[CLAIM_BYTES..])
            .is_ok();
        if genuine {
            Ok((name, claim))
        } else {
            Err(CredentialRefusal::WrongKey(name))
        }
    }

    /// A number only this room can work out from a name: what a learner's
    /// exercise inputs come from, so that nobody can compute another
    /// learner's numbers from their name and ask for them first.
    pub fn plan_seed(&self, name: &LearnerName) -> u64 {
        let mut mac = self.mac();
        mac.update(PLAN_PURPOSE);
        mac.update(name.as_str().as_bytes());
        let tag = mac.finalize().into_bytes();
        u64::from_be_bytes(tag[..8].try_into().expect("a SHA-256 tag is 32 bytes"))
    }

    /// The instructor key for a room whose settings name none.
    pub fn instructor_key(&self) -> InstructorKey {
        let mut mac = self.mac();
        mac.update(INSTRUCTOR_PURPOSE);
        let tag = mac.finalize().into_bytes();
        InstructorKey(hex(&tag[..INSTRUCTOR_KEY_BYTES]))
    }

    /// A name for the room that tells whether two instances share this
    /// secret (and so accept the same keys and give learners the same
    /// inputs), without revealing it: 16 hex digits.
    pub fn room_id(&self) -> String {
        let mut mac = self.mac();
        mac.update(ROOM_PURPOSE);
        hex(&mac.finalize().into_bytes()[..8])
    }

    fn learner_mac(&self, name: &LearnerName, claim: u32) -> Hmac<Sha256> {
        let mut mac = self.mac();
        mac.update(LEARNER_PURPOSE);
        mac.update(name.as_str().as_bytes());
        // After the name: a name cannot contain a NUL, so no name and claim
        // number can be mistaken for another pair.
        mac.update(b"\0");
        mac.update(&claim.to_be_bytes());
        mac
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes a key of any length")
    }
}

fn read_secret(path: &Path) -> std::io::Result<RoomSecret> {
    let bytes = std::fs::read(path)?;
    let secret = <[u8; SECRET_BYTES]>::try_from(bytes.as_slice()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it holds {} bytes instead of {SECRET_BYTES}; delete it to make a new one \
                 (every learner's key changes)",
                bytes.len()
            ),
        )
    })?;
    Ok(RoomSecret(secret))
}

/// Writes a new secret to a file of our own, then links it into place: a
/// link is never half-written, and it fails if another copy of the app
/// starting at the same moment got there first, in which case both use that
/// copy's secret.
fn create_secret(path: &Path) -> std::io::Result<RoomSecret> {
    let secret = random_bytes();
    let mut unfinished = path.as_os_str().to_owned();
    unfinished.push(format!(".{}.new", std::process::id()));
    let unfinished = PathBuf::from(unfinished);
    // Left behind only by a copy with our process id that died here.
    let _ = std::fs::remove_file(&unfinished);
    let written =
        write_owner_only(&unfinished, &secret).and_then(|()| std::fs::hard_link(&unfinished, path));
    let _ = std::fs::remove_file(&unfinished);
    match written {
        Ok(()) => Ok(RoomSecret(secret)),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => read_secret(path),
        Err(error) => Err(error),
    }
}

/// Creates `path` readable and writable by its owner only (mode 0600 on
/// Unix: other accounts on the machine must not read learners' keys off
/// it) and writes `bytes` to disk.
fn write_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Fresh bytes from the operating system's random number generator.
fn random_bytes() -> [u8; SECRET_BYTES] {
    let mut bytes = [0; SECRET_BYTES];
    // std's HashMap already needs this generator to start at all, so it
    // failing here is not a case this app can run in.
    getrandom::fill(&mut bytes).expect("the operating system provides random bytes");
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A learner key as sent (16 hex digits, either case) in bytes, or `None`
/// if it cannot be one.
fn decode_learner_key(text: &str) -> Option<[u8; LEARNER_KEY_BYTES]> {
    if text.len() != LEARNER_KEY_BYTES * 2 || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    let mut key = [0; LEARNER_KEY_BYTES];
    for (index, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).ok()?;
    }
    Some(key)
}

/// A name with the key that proves it, written `name:key`: what a browser's
/// cookie holds and what curl sends as `X-Learner` or `?learner=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    name: LearnerName,
    claim: u32,
    key: String,
}

impl Credential {
    pub fn name(&self) -> &LearnerName {
        &self.name
    }

    /// The claim number the key carries.
    pub fn claim(&self) -> u32 {
        self.claim
    }
}

impl std::fmt::Display for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.name, self.key)
    }
}

/// Why a credential proves no learner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialRefusal {
    /// The part before the colon is not a usable name; the reason, in words.
    UnusableName(String),
    /// A name alone, without `:key`.
    MissingKey(LearnerName),
    /// A name with a key that is not its own (or no longer is: the name
    /// was claimed with another key).
    WrongKey(LearnerName),
}

/// The key that opens the instructor's view of every learner: 12 to 128
/// letters, digits, `-` or `_` (safe in a URL as it is).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InstructorKey(String);

impl InstructorKey {
    /// Shorter keys could be guessed; longer ones only make the link unwieldy.
    pub const LENGTHS: std::ops::RangeInclusive<usize> = 12..=128;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let usable = Self::LENGTHS.contains(&raw.len())
            && raw
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if usable {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "instructor_key must be {} to {} letters, digits, '-' or '_' (it was {} \
                 characters)",
                Self::LENGTHS.start(),
                Self::LENGTHS.end(),
                raw.chars().count()
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `offered` is this key. Compares digests of both, so the time
    /// taken says nothing about how much of a guess was right.
    pub fn matches(&self, offered: &str) -> bool {
        Sha256::digest(offered.as_bytes()) == Sha256::digest(self.0.as_bytes())
    }
}

impl TryFrom<String> for InstructorKey {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl From<InstructorKey> for String {
    fn from(key: InstructorKey) -> String {
        key.0
    }
}

/// Never prints the key itself: settings are debug-printed in places where
/// a key would not belong.
impl std::fmt::Debug for InstructorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InstructorKey(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ada() -> LearnerName {
        LearnerName::parse("ada").expect("valid")
    }

    #[test]
    fn a_credential_proves_its_own_name_and_no_other() {
        let secret = RoomSecret(random_bytes());
        let issued = secret.issue(&ada());
        let credential = issued.to_string();
        let claim = issued.claim();
        assert_eq!(secret.verify(&credential), Ok((ada(), claim)));
        assert_eq!(
            secret.verify(&credential.to_uppercase()),
            Ok((ada(), claim))
        );
        assert_ne!(
            secret.issue(&ada()).claim(),
            claim,
            "each hand-out of a name is a claim of its own"
        );
        let key = credential.split_once(':').expect("name:key").1;
        assert_eq!(key.len(), 16);
        assert_eq!(
            secret.verify(&format!("grace:{key}")),
            Err(CredentialRefusal::WrongKey(
                LearnerName::parse("grace").expect("valid")
            ))
        );
        assert_eq!(
            secret.verify("ada"),
            Err(CredentialRefusal::MissingKey(ada()))
        );
        for wrong in [
            "ada:",
            "ada:0000000000000000",
            "ada:+f+f+f+f+f+f+f+f",
            "ada:ä",
        ] {
            assert_eq!(
                secret.verify(wrong),
                Err(CredentialRefusal::WrongKey(ada())),
                "{wrong}"
            );
        }
        assert!(matches!(
            secret.verify("bad name!:0000000000000000"),
            Err(CredentialRefusal::UnusableName(_))
        ));
        let other_room = RoomSecret(random_bytes());
        assert!(other_room.verify(&credential).is_err());
    }

    #[test]
    fn the_secret_is_made_once_for_its_owner_only_and_read_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = room_secret_path(&dir.path().join("progress.jsonl"));
        let first = RoomSecret::open_or_create(&path).expect("made");
        let again = RoomSecret::open_or_create(&path).expect("read");
        assert_eq!(first.credential(&ada(), 7), again.credential(&ada(), 7));
        assert_eq!(
            first.instructor_key().as_str(),
            again.instructor_key().as_str()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers = std::fs::read_dir(dir.path()).expect("listed").count();
        assert_eq!(leftovers, 1, "only the secret itself");
    }

    #[test]
    fn a_damaged_secret_is_refused_not_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("room.secret");
        std::fs::write(&path, b"short").expect("write");
        let error = RoomSecret::open_or_create(&path)
            .err()
            .expect("a 5-byte secret is refused");
        assert!(error.to_string().contains("5 bytes"), "{error}");
        assert_eq!(std::fs::read(&path).expect("kept"), b"short");
    }

    #[test]
    fn instructor_keys_are_checked() {
        assert!(InstructorKey::parse("short").is_err());
        assert!(InstructorKey::parse("has spaces in it").is_err());
        assert!(InstructorKey::parse(&"k".repeat(129)).is_err());
        let key = InstructorKey::parse("Room-42_instructor").expect("valid");
        assert!(key.matches("Room-42_instructor"));
        assert!(!key.matches("Room-42_instructo"));
        assert_eq!(format!("{key:?}"), "InstructorKey(…)");
        let derived = RoomSecret(random_bytes()).instructor_key();
        assert_eq!(
            InstructorKey::parse(derived.as_str()).map(|key| key.0),
            Ok(derived.0.clone())
        );
    }
}
