//! Author keys, signing, and signature verification, single and batched.
//!
//! Two nodes must never disagree about whether an event is valid, or the network splits into
//! views that cannot converge. Ed25519 implementations differ exactly where that matters: the
//! cofactorless check (`verify_strict`) and a batch check give different answers for points with a
//! small torsion component. So both paths here use the same rule (the insight of ZIP-215), plus
//! the strict rejections:
//!
//! - the key `A` and the nonce point `R` must be canonical encodings (y < p) and not of small order;
//! - `S` must be a canonical scalar (< ℓ);
//! - the equation is the cofactored one, `[8][S]B = [8]R + [8][k]A` with `k = SHA-512(R‖A‖M)`.
//!
//! A batch of such equations, combined with random 128-bit coefficients derived from every input
//! (so a forger cannot choose them), holds exactly when each equation holds, up to a 2⁻¹²⁸
//! chance. Single and batch verification therefore accept the same set; the conformance vectors
//! pin a mixed-order `R` that a cofactorless verifier would reject.

use crate::id::{AuthorId, EventId, context};
use crate::limits::VERIFY_BATCH_SIGNATURES_MAX;
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::Signer as _;
use rand_core::CryptoRngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha512};
use std::collections::BTreeMap;
use std::fmt;

/// Why a signature was not accepted. Every variant means "invalid"; they differ so a log or a
/// conformance vector can say which rule failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The author id is not the canonical encoding of a curve point.
    #[error("author key is not a valid curve point")]
    MalformedKey,
    /// The author id is a point of small order, for which any message verifies.
    #[error("author key is a small-order point")]
    WeakKey,
    /// The signature's `R` is not the canonical encoding of a curve point.
    #[error("signature R is not a valid curve point")]
    MalformedR,
    /// The signature's `R` is a point of small order.
    #[error("signature R is a small-order point")]
    WeakR,
    /// The signature's `S` is not reduced modulo the group order (a malleated signature).
    #[error("signature S is not a canonical scalar")]
    NonCanonicalS,
    /// Everything is well formed but the equation does not hold: wrong key, message or forgery.
    #[error("signature does not match the author key and event id")]
    Mismatch,
}

impl SignatureError {
    /// A stable snake_case name for logs, APIs and conformance vectors.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::MalformedKey => "malformed_key",
            SignatureError::WeakKey => "weak_key",
            SignatureError::MalformedR => "malformed_r",
            SignatureError::WeakR => "weak_r",
            SignatureError::NonCanonicalS => "non_canonical_s",
            SignatureError::Mismatch => "signature_mismatch",
        }
    }
}

/// An ed25519 signature over an [`EventId`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(self.0))
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&hex::encode(self.0))
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let bytes: Vec<u8> = if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            hex::decode(&text).map_err(|_| D::Error::custom("signature is not hex"))?
        } else {
            serde_bytes_vec(deserializer)?
        };
        let array: [u8; 64] = bytes
            .try_into()
            .map_err(|_| D::Error::custom("signature must be 64 bytes"))?;
        Ok(Signature(array))
    }
}

fn serde_bytes_vec<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    struct BytesVisitor;
    impl<'de> serde::de::Visitor<'de> for BytesVisitor {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("64 signature bytes")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
    }
    deserializer.deserialize_bytes(BytesVisitor)
}

/// An author's signing key. It never appears in `Debug` output or logs.
pub struct AuthorKey {
    signing: ed25519_dalek::SigningKey,
}

impl fmt::Debug for AuthorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthorKey({}, secret redacted)", self.author())
    }
}

impl AuthorKey {
    /// A fresh key from the given cryptographic RNG (the caller chooses OS randomness or a seed).
    pub fn generate(rng: &mut impl CryptoRngCore) -> AuthorKey {
        AuthorKey {
            signing: ed25519_dalek::SigningKey::generate(rng),
        }
    }

    /// The key whose 32-byte secret seed is `secret`.
    pub fn from_secret_bytes(secret: &[u8; 32]) -> AuthorKey {
        AuthorKey {
            signing: ed25519_dalek::SigningKey::from_bytes(secret),
        }
    }

    /// The 32-byte secret seed, for writing to a 0600 key file. Handle with care.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The author this key signs for.
    pub fn author(&self) -> AuthorId {
        AuthorId(self.signing.verifying_key().to_bytes())
    }

    /// Signs an event id.
    pub fn sign(&self, id: &EventId) -> Signature {
        Signature(self.signing.sign(&id.0).to_bytes())
    }
}

/// One signature to check: who claims to have signed which event id.
#[derive(Clone, Copy, Debug)]
pub struct SignedId<'a> {
    /// The claimed signer.
    pub author: &'a AuthorId,
    /// The signed event id.
    pub id: &'a EventId,
    /// The signature.
    pub signature: &'a Signature,
}

/// A signature whose encodings passed the strict checks, ready for the equation.
struct Prepared {
    a: EdwardsPoint,
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

/// The field prime 2^255 - 19, little-endian, for the canonical-encoding check.
const FIELD_PRIME_LE: [u8; 32] = {
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// Decompresses a point, refusing non-canonical encodings (y ≥ p) and small-order points.
///
/// The x = 0 points whose sign bit can be set non-canonically are all of small order, so with
/// both checks every accepted point has exactly one accepted encoding.
fn decompress_strict(bytes: &[u8; 32]) -> Result<EdwardsPoint, PointError> {
    let mut y = *bytes;
    y[31] &= 0x7f;
    // Little-endian comparison y < p, from the most significant byte down.
    let mut below_prime = false;
    for i in (0..32).rev() {
        if y[i] != FIELD_PRIME_LE[i] {
            below_prime = y[i] < FIELD_PRIME_LE[i];
            break;
        }
    }
    if !below_prime {
        return Err(PointError::Malformed);
    }
    let point = CompressedEdwardsY(*bytes)
        .decompress()
        .ok_or(PointError::Malformed)?;
    if point.is_small_order() {
        return Err(PointError::SmallOrder);
    }
    Ok(point)
}

enum PointError {
    Malformed,
    SmallOrder,
}

/// Decompressed author keys, so a node that hears from the same authors again and again does
/// not pay for point decompression (about a seventh of a verification) every time.
///
/// Bounded: when full, the entry with the smallest author id is evicted, which keeps the cache's
/// behaviour deterministic.
#[derive(Clone, Debug)]
pub struct KeyCache {
    keys: BTreeMap<AuthorId, EdwardsPoint>,
    capacity: usize,
    memo: Option<SignatureMemo>,
}

/// Signatures already found valid, shared between the key caches of many engines in one
/// process: the simulator's cheap signature mode, where thousands of simulated nodes check the
/// same event.
///
/// Exact, not an approximation: a verdict depends only on (author, id, signature), so a triple
/// that verified once verifies forever; only successes are remembered, and a triple not in the
/// memo is verified in full. The daemon does not use it (one node gains nothing from it).
#[derive(Clone, Default)]
pub struct SignatureMemo {
    valid: std::sync::Arc<std::sync::Mutex<ValidSignatures>>,
}

/// (event id, signature) pairs found valid.
type ValidSignatures = std::collections::HashSet<(EventId, [u8; 64])>;

impl SignatureMemo {
    /// An empty memo.
    pub fn new() -> SignatureMemo {
        SignatureMemo::default()
    }

    /// Signatures remembered as valid.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing has been remembered yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // The id already binds the author (it hashes the header), so (id, signature) is the triple.
    fn contains(&self, item: &SignedId<'_>) -> bool {
        self.lock().contains(&(*item.id, item.signature.0))
    }

    fn remember(&self, item: &SignedId<'_>) {
        self.lock().insert((*item.id, item.signature.0));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<(EventId, [u8; 64])>> {
        // A panic while holding the lock cannot leave the set half-updated (insert is atomic
        // from our side), so a poisoned lock is still sound to use.
        self.valid.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for SignatureMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignatureMemo({} valid)", self.len())
    }
}

/// Authors whose decompressed keys a default [`KeyCache`] keeps.
pub const KEY_CACHE_AUTHORS_MAX: usize = 4096;

impl Default for KeyCache {
    fn default() -> Self {
        KeyCache::with_capacity(KEY_CACHE_AUTHORS_MAX)
    }
}

impl KeyCache {
    /// A cache holding at most `capacity` keys.
    pub fn with_capacity(capacity: usize) -> KeyCache {
        KeyCache {
            keys: BTreeMap::new(),
            capacity: capacity.max(1),
            memo: None,
        }
    }

    /// This cache, consulting and filling `memo` as well.
    pub fn with_memo(mut self, memo: SignatureMemo) -> KeyCache {
        self.memo = Some(memo);
        self
    }

    /// [`verify`], reusing decompressed keys.
    pub fn verify(&mut self, item: &SignedId<'_>) -> Result<(), SignatureError> {
        if let Some(memo) = &self.memo
            && memo.contains(item)
        {
            return Ok(());
        }
        verify_prepared(prepare(item, Some(self))?)?;
        if let Some(memo) = &self.memo {
            memo.remember(item);
        }
        Ok(())
    }

    /// [`verify_batch`], reusing decompressed keys.
    pub fn verify_batch(&mut self, items: &[SignedId<'_>]) -> Vec<Result<(), SignatureError>> {
        let Some(memo) = self.memo.clone() else {
            let mut results = Vec::with_capacity(items.len());
            for chunk in items.chunks(VERIFY_BATCH_SIGNATURES_MAX) {
                verify_chunk(chunk, &mut results, Some(self));
            }
            return results;
        };
        // Verify only what the memo does not know, then put the answers back in input order.
        let unknown: Vec<usize> = (0..items.len())
            .filter(|&i| !memo.contains(&items[i]))
            .collect();
        let todo: Vec<SignedId<'_>> = unknown.iter().map(|&i| items[i]).collect();
        let mut checked = Vec::with_capacity(todo.len());
        for chunk in todo.chunks(VERIFY_BATCH_SIGNATURES_MAX) {
            verify_chunk(chunk, &mut checked, Some(self));
        }
        let mut results: Vec<Result<(), SignatureError>> = vec![Ok(()); items.len()];
        for (&i, result) in unknown.iter().zip(checked) {
            if result.is_ok() {
                memo.remember(&items[i]);
            }
            results[i] = result;
        }
        results
    }

    fn key(&mut self, author: &AuthorId) -> Result<EdwardsPoint, SignatureError> {
        if let Some(point) = self.keys.get(author) {
            return Ok(*point);
        }
        let point = decompress_key(author)?;
        if self.keys.len() >= self.capacity {
            self.keys.pop_first();
        }
        self.keys.insert(*author, point);
        Ok(point)
    }
}

fn decompress_key(author: &AuthorId) -> Result<EdwardsPoint, SignatureError> {
    decompress_strict(&author.0).map_err(|e| match e {
        PointError::Malformed => SignatureError::MalformedKey,
        PointError::SmallOrder => SignatureError::WeakKey,
    })
}

fn prepare(item: &SignedId<'_>, cache: Option<&mut KeyCache>) -> Result<Prepared, SignatureError> {
    let a = match cache {
        Some(cache) => cache.key(item.author)?,
        None => decompress_key(item.author)?,
    };
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&item.signature.0[..32]);
    let r = decompress_strict(&r_bytes).map_err(|e| match e {
        PointError::Malformed => SignatureError::MalformedR,
        PointError::SmallOrder => SignatureError::WeakR,
    })?;
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&item.signature.0[32..]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
        .ok_or(SignatureError::NonCanonicalS)?;
    let mut hash = Sha512::new();
    hash.update(r_bytes);
    hash.update(item.author.0);
    hash.update(item.id.0);
    let k = Scalar::from_bytes_mod_order_wide(&hash.finalize().into());
    Ok(Prepared { a, r, s, k })
}

/// Verifies one signature under the rules in the module docs.
pub fn verify(item: &SignedId<'_>) -> Result<(), SignatureError> {
    verify_prepared(prepare(item, None)?)
}

fn verify_prepared(p: Prepared) -> Result<(), SignatureError> {
    // [S]B - [k]A - R, multiplied by the cofactor, must be the identity.
    let sb_minus_ka = EdwardsPoint::vartime_double_scalar_mul_basepoint(&p.k, &-p.a, &p.s);
    if (sb_minus_ka - p.r).mul_by_cofactor().is_identity() {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Verifies many signatures at once and says which, if any, are bad.
///
/// Returns one result per input, in input order. Well-formed signatures are checked together in
/// one multi-scalar multiplication (terms for the same author are merged, which makes a batch
/// from one author's log much cheaper); only when that combined check fails is each signature
/// checked on its own to find the culprits. The results are exactly those of calling [`verify`]
/// on each item.
pub fn verify_batch(items: &[SignedId<'_>]) -> Vec<Result<(), SignatureError>> {
    // A batch usually holds many events by few authors (a backfilled log is one author), so
    // each distinct key is decompressed once even without a long-lived cache.
    let distinct = items
        .iter()
        .map(|i| i.author)
        .collect::<std::collections::BTreeSet<_>>();
    KeyCache::with_capacity(distinct.len()).verify_batch(items)
}

fn verify_chunk(
    items: &[SignedId<'_>],
    results: &mut Vec<Result<(), SignatureError>>,
    mut cache: Option<&mut KeyCache>,
) {
    let first = results.len();
    let mut prepared = Vec::with_capacity(items.len());
    for item in items {
        match prepare(item, cache.as_deref_mut()) {
            Ok(p) => {
                prepared.push((results.len(), p));
                results.push(Ok(()));
            }
            Err(e) => results.push(Err(e)),
        }
    }
    if prepared.is_empty() || batch_equation_holds(items, first, &prepared) {
        return;
    }
    // Only when something in the batch is bad: check each on its own to find which.
    for (index, p) in prepared {
        results[index] = verify_prepared(p);
    }
}

/// Checks Σ zᵢ·[8]([Sᵢ]B − Rᵢ − [kᵢ]Aᵢ) = 0 for coefficients zᵢ bound to every input.
fn batch_equation_holds(
    items: &[SignedId<'_>],
    first: usize,
    prepared: &[(usize, Prepared)],
) -> bool {
    // The coefficients come from a hash of every key, id and signature in the batch, so they are
    // fixed only after the forger has committed to all of them (Fiat-Shamir), and two nodes
    // checking the same batch compute the same thing.
    let mut transcript = blake3::Hasher::new_derive_key(context::BATCH_VERIFY);
    for (index, _) in prepared {
        let item = &items[*index - first];
        transcript.update(&item.author.0);
        transcript.update(&item.id.0);
        transcript.update(&item.signature.0);
    }
    let mut coefficients = transcript.finalize_xof();

    let mut basepoint_scalar = Scalar::ZERO;
    let mut scalars = Vec::with_capacity(prepared.len() + 8);
    let mut points = Vec::with_capacity(prepared.len() + 8);
    // Terms for the same key are merged: a batch of one author's log needs one A term in total.
    let mut key_scalars: BTreeMap<[u8; 32], (Scalar, EdwardsPoint)> = BTreeMap::new();
    for (index, p) in prepared {
        let mut z_bytes = [0u8; 32];
        coefficients.fill(&mut z_bytes[..16]);
        let z = Scalar::from_bytes_mod_order(z_bytes);
        basepoint_scalar += z * p.s;
        scalars.push(-z);
        points.push(p.r);
        let entry = key_scalars
            .entry(items[*index - first].author.0)
            .or_insert((Scalar::ZERO, p.a));
        entry.0 -= z * p.k;
    }
    for (scalar, point) in key_scalars.into_values() {
        scalars.push(scalar);
        points.push(point);
    }
    scalars.push(basepoint_scalar);
    points.push(ED25519_BASEPOINT_POINT);
    EdwardsPoint::vartime_multiscalar_mul(scalars, points)
        .mul_by_cofactor()
        .is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::EIGHT_TORSION;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn key(seed: u8) -> AuthorKey {
        AuthorKey::from_secret_bytes(&[seed; 32])
    }

    #[test]
    fn sign_then_verify() {
        let k = key(1);
        let id = EventId([42; 32]);
        let sig = k.sign(&id);
        let author = k.author();
        assert_eq!(
            verify(&SignedId {
                author: &author,
                id: &id,
                signature: &sig
            }),
            Ok(())
        );
        let other = EventId([43; 32]);
        assert_eq!(
            verify(&SignedId {
                author: &author,
                id: &other,
                signature: &sig
            }),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_memo_remembers_only_valid_signatures_and_changes_no_verdict() {
        let k = key(3);
        let author = k.author();
        let ids: Vec<EventId> = (0..5u8).map(|i| EventId([i; 32])).collect();
        let mut sigs: Vec<Signature> = ids.iter().map(|id| k.sign(id)).collect();
        sigs[2].0[40] ^= 1;
        let items: Vec<SignedId<'_>> = ids
            .iter()
            .zip(&sigs)
            .map(|(id, signature)| SignedId {
                author: &author,
                id,
                signature,
            })
            .collect();
        let memo = SignatureMemo::new();
        let expected = verify_batch(&items);
        let mut first = KeyCache::default().with_memo(memo.clone());
        assert_eq!(first.verify_batch(&items), expected);
        assert_eq!(memo.len(), 4, "the bad signature is not remembered");
        // A second cache sharing the memo answers the same, from memory or in full.
        let mut second = KeyCache::default().with_memo(memo.clone());
        assert_eq!(second.verify_batch(&items), expected);
        for (item, want) in items.iter().zip(&expected) {
            assert_eq!(second.verify(item), *want);
        }
        // A forged signature on a remembered id is still checked, and fails.
        let mut forged = sigs[0];
        forged.0[0] ^= 1;
        let forged_item = SignedId {
            author: &author,
            id: &ids[0],
            signature: &forged,
        };
        assert!(second.verify(&forged_item).is_err());
    }

    #[test]
    fn generated_keys_differ_and_debug_hides_the_secret() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let a = AuthorKey::generate(&mut rng);
        let b = AuthorKey::generate(&mut rng);
        assert_ne!(a.author(), b.author());
        let shown = format!("{a:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains(&hex::encode(a.secret_bytes())));
    }

    #[test]
    fn small_order_key_and_r_are_rejected_by_both_paths() {
        let id = EventId([1; 32]);
        // The identity point as a key: every signature with R = identity and S = 0 would "verify".
        let weak = AuthorId(EIGHT_TORSION[0].compress().to_bytes());
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&EIGHT_TORSION[0].compress().to_bytes());
        let sig = Signature(sig);
        let item = SignedId {
            author: &weak,
            id: &id,
            signature: &sig,
        };
        assert_eq!(verify(&item), Err(SignatureError::WeakKey));
        assert_eq!(verify_batch(&[item]), vec![Err(SignatureError::WeakKey)]);

        let good = key(2).author();
        let item = SignedId {
            author: &good,
            id: &id,
            signature: &sig,
        };
        assert_eq!(verify(&item), Err(SignatureError::WeakR));
        assert_eq!(verify_batch(&[item]), vec![Err(SignatureError::WeakR)]);
    }

    #[test]
    fn non_canonical_s_is_rejected() {
        let k = key(3);
        let id = EventId([9; 32]);
        let mut sig = k.sign(&id);
        // S + ℓ is the classic malleation: same value mod ℓ, different bytes.
        let s = Scalar::from_canonical_bytes(sig.0[32..].try_into().unwrap()).unwrap();
        let ell: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut sum = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(s.as_bytes()[i]) + u16::from(ell[i]) + carry;
            sum[i] = v as u8;
            carry = v >> 8;
        }
        // S < ℓ < 2^253, so S + ℓ < 2^254 always fits: the test cannot skip its assertions.
        assert_eq!((carry, sum[31] & 0xe0), (0, 0));
        sig.0[32..].copy_from_slice(&sum);
        let author = k.author();
        let item = SignedId {
            author: &author,
            id: &id,
            signature: &sig,
        };
        assert_eq!(verify(&item), Err(SignatureError::NonCanonicalS));
        assert_eq!(
            verify_batch(&[item]),
            vec![Err(SignatureError::NonCanonicalS)]
        );
    }

    #[test]
    fn batch_names_the_bad_signature() {
        let keys: Vec<AuthorKey> = (0..5).map(key).collect();
        let authors: Vec<AuthorId> = keys.iter().map(AuthorKey::author).collect();
        let ids: Vec<EventId> = (0..10u8).map(|i| EventId([i; 32])).collect();
        let mut sigs: Vec<Signature> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| keys[i % 5].sign(id))
            .collect();
        sigs[6].0[40] ^= 1;
        let items: Vec<SignedId<'_>> = (0..10)
            .map(|i| SignedId {
                author: &authors[i % 5],
                id: &ids[i],
                signature: &sigs[i],
            })
            .collect();
        let results = verify_batch(&items);
        for (i, result) in results.iter().enumerate() {
            assert_eq!(*result, verify(&items[i]), "item {i}");
            assert_eq!(result.is_ok(), i != 6, "item {i}");
        }
    }

    #[test]
    fn batch_of_valid_signatures_passes_and_empty_batch_is_empty() {
        let k = key(4);
        let author = k.author();
        let ids: Vec<EventId> = (0..40u8).map(|i| EventId([i; 32])).collect();
        let sigs: Vec<Signature> = ids.iter().map(|id| k.sign(id)).collect();
        let items: Vec<SignedId<'_>> = ids
            .iter()
            .zip(&sigs)
            .map(|(id, signature)| SignedId {
                author: &author,
                id,
                signature,
            })
            .collect();
        assert!(verify_batch(&items).iter().all(Result::is_ok));
        assert!(verify_batch(&[]).is_empty());
    }

    #[test]
    fn cached_keys_give_the_same_answers() {
        let mut cache = KeyCache::with_capacity(2);
        let keys: Vec<AuthorKey> = (10..14).map(key).collect();
        let id = EventId([5; 32]);
        for round in 0..2 {
            for (i, k) in keys.iter().enumerate() {
                let author = k.author();
                let mut sig = k.sign(&id);
                if i == 2 {
                    sig.0[33] ^= 1;
                }
                let item = SignedId {
                    author: &author,
                    id: &id,
                    signature: &sig,
                };
                assert_eq!(cache.verify(&item), verify(&item), "round {round} key {i}");
                assert_eq!(cache.verify_batch(&[item]), verify_batch(&[item]));
            }
        }
        assert!(cache.keys.len() <= 2, "the cache stays bounded");
    }
}
