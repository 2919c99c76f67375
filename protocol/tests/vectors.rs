//! Conformance vectors: committed bytes, ids and signatures that pin the wire format.
//!
//! `protocol/vectors/events.json` holds fixed keys and inputs with their exact encodings, plus
//! invalid cases with the error code each must produce. This test checks the code against the
//! committed file, so the format cannot drift silently; another implementation can run the same
//! file. To regenerate after an intentional format change (a new format version, not an edit):
//! `HANDBILL_UPDATE_VECTORS=1 cargo test -p handbill-protocol --test vectors`.

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::scalar::Scalar;
use handbill_protocol::engine::topics_for;
use handbill_protocol::event::{FORMAT_VERSION, Header, SignedEvent};
use handbill_protocol::limits::{CREATED_AT_FUTURE_MS_MAX, EVENT_BYTES_MAX};
use handbill_protocol::payload::*;
use handbill_protocol::signature::{self, SignedId};
use handbill_protocol::validate::{sign_raw, verify_bytes};
use handbill_protocol::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use std::path::PathBuf;

const NOW: Timestamp = Timestamp(1_767_225_600_000); // 2026-01-01T00:00:00Z

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors/events.json")
}

fn key(seed: u8) -> AuthorKey {
    AuthorKey::from_secret_bytes(&[seed; 32])
}

fn h(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex field is a string")).expect("valid hex in vectors")
}

/// The valid cases: (name, secret seed, created_at, payload) built into a chain per author.
fn valid_inputs() -> Vec<(&'static str, u8, Timestamp, Kind, Vec<u8>)> {
    let alice = key(1).author();
    let first_post_ref = |events: &[VerifiedEvent]| EventRef {
        author: alice,
        id: events[0].id(),
    };
    // Built in two passes so later payloads can reference earlier ids.
    let mut events: Vec<VerifiedEvent> = Vec::new();
    let mut inputs = Vec::new();
    let mut push = |name: &'static str,
                    seed: u8,
                    t: u64,
                    payload: Payload,
                    events: &mut Vec<VerifiedEvent>| {
        let k = key(seed);
        let head = events
            .iter()
            .rev()
            .find(|e| e.author() == k.author())
            .map(VerifiedEvent::head);
        let event = sign_next(&k, head.as_ref(), Timestamp(t), &payload).expect("valid input");
        inputs.push((name, seed, Timestamp(t), payload.kind(), payload.encode()));
        events.push(event);
    };
    push(
        "first post of a log",
        1,
        NOW.0,
        Payload::Post(Post {
            text: "Hello, Handbill!".into(),
            tags: vec!["intro".into()],
            ..Post::default()
        }),
        &mut events,
    );
    let r = first_post_ref(&events);
    push(
        "second event: a post with every field",
        1,
        NOW.0 + 1,
        Payload::Post(Post {
            text: "Replying to myself, quoting, mentioning bob. ünïcödé ✓".into(),
            reply: Some(ReplyRef { root: r, parent: r }),
            quote: Some(r),
            tags: vec!["thread".into(), "test".into()],
            mentions: vec![key(2).author()],
            self_labels: vec!["spoiler".into()],
        }),
        &mut events,
    );
    push(
        "reply from another author",
        2,
        NOW.0 + 2,
        Payload::Post(Post {
            text: "Welcome!".into(),
            reply: Some(ReplyRef { root: r, parent: r }),
            ..Post::default()
        }),
        &mut events,
    );
    push(
        "repost",
        2,
        NOW.0 + 3,
        Payload::Repost(Repost { target: r }),
        &mut events,
    );
    push(
        "reaction",
        2,
        NOW.0 + 4,
        Payload::Reaction(Reaction {
            target: r,
            reaction: "🎉".into(),
        }),
        &mut events,
    );
    push(
        "follow",
        2,
        NOW.0 + 5,
        Payload::Follow(Follow { author: alice }),
        &mut events,
    );
    push(
        "unfollow",
        2,
        NOW.0 + 6,
        Payload::Unfollow(Unfollow { author: alice }),
        &mut events,
    );
    push(
        "profile",
        1,
        NOW.0 + 7,
        Payload::Profile(Profile {
            name: "Alice".into(),
            bio: "Posting since 2026.".into(),
        }),
        &mut events,
    );
    push(
        "delete",
        1,
        NOW.0 + 8,
        Payload::Delete(Delete {
            targets: vec![DeleteTarget {
                id: r.id,
                topics: vec![key(2).author()],
            }],
        }),
        &mut events,
    );
    push(
        "labeler declaration",
        3,
        NOW.0 + 9,
        Payload::LabelerDeclaration(LabelerDeclaration {
            name: "Safety Desk".into(),
            description: "Labels threats and scams.".into(),
            labels: vec![
                LabelDefinition {
                    value: "violence".into(),
                    severity: Severity::High,
                    default_action: Action::Hide,
                    description: "Threats or incitement".into(),
                },
                LabelDefinition {
                    value: "satire".into(),
                    severity: Severity::Low,
                    default_action: Action::Show,
                    description: String::new(),
                },
            ],
        }),
        &mut events,
    );
    push(
        "label on a post with expiry",
        3,
        NOW.0 + 10,
        Payload::Label(Label {
            target: LabelTarget::Event(r),
            value: "violence".into(),
            reason: Some("explicit threat".into()),
            expires_at: Some(Timestamp(NOW.0 + 86_400_000)),
            negate: false,
        }),
        &mut events,
    );
    push(
        "label negation on an author",
        3,
        NOW.0 + 11,
        Payload::Label(Label {
            target: LabelTarget::Author(alice),
            value: "satire".into(),
            reason: None,
            expires_at: None,
            negate: true,
        }),
        &mut events,
    );
    push(
        "list",
        3,
        NOW.0 + 12,
        Payload::List(List {
            name: "known spammers".into(),
            description: "Mute these.".into(),
            purpose: ListPurpose::Mute,
            members: vec![key(4).author(), key(5).author()],
        }),
        &mut events,
    );
    push(
        "delete (first version, naming no topics)",
        1,
        NOW.0 + 13,
        Payload::DeleteV1(Delete::of([first_post_ref(&events).id])),
        &mut events,
    );
    let r = first_post_ref(&events);
    push(
        "edit of an own post, travelling on a mentioned author's topic",
        1,
        NOW.0 + 14,
        Payload::Edit(Edit {
            target: r,
            text: "Hello again, Handbill!".into(),
            topics: vec![key(2).author()],
        }),
        &mut events,
    );
    inputs
}

/// Builds the valid vectors from their inputs, chaining each author's events.
fn build_valid() -> Vec<(Value, VerifiedEvent)> {
    let mut heads: std::collections::BTreeMap<u8, LogHead> = Default::default();
    let mut out = Vec::new();
    for (name, seed, t, kind, payload) in valid_inputs() {
        let k = key(seed);
        let event = sign_raw(&k, heads.get(&seed), t, kind, payload.clone()).expect("valid input");
        heads.insert(seed, event.head());
        let value = json!({
            "name": name,
            "secret_key_hex": h(&k.secret_bytes()),
            "author": k.author().to_string(),
            "author_hex": h(&k.author().0),
            "created_at": t.0,
            "kind": kind.0,
            "seq": event.seq(),
            "prev": event.header().prev.map(|p| p.to_string()),
            "payload_hex": h(&payload),
            "header_hex": h(&event.header().encode()),
            "id": event.id().to_string(),
            "id_hex": h(&event.id().0),
            "signature_hex": h(&event.signature().0),
            "envelope_hex": h(&event.encode()),
            // The gossip topics' authors, in order: the routing rule every node checks.
            "topics": topics_for(&event).iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        });
        out.push((value, event));
    }
    out
}

/// The secret scalar of a seed, as RFC 8032 derives it, for crafting edge-case signatures.
fn secret_scalar(seed: &[u8; 32]) -> Scalar {
    let digest = Sha512::digest(seed);
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&digest[..32]);
    bytes[0] &= 248;
    bytes[31] &= 127;
    bytes[31] |= 64;
    Scalar::from_bytes_mod_order(bytes)
}

/// A signature whose R has an order-8 torsion component: valid under the cofactored equation
/// that both our single and batch paths use, rejected by a cofactorless verifier.
fn mixed_order_signature(seed: u8, id: &EventId) -> Signature {
    let a = secret_scalar(&[seed; 32]);
    let author = key(seed).author();
    let r_scalar = Scalar::from_bytes_mod_order([0x42; 32]);
    let r_point = ED25519_BASEPOINT_POINT * r_scalar + EIGHT_TORSION[1];
    let r_bytes = r_point.compress().to_bytes();
    let mut hash = Sha512::new();
    hash.update(r_bytes);
    hash.update(author.0);
    hash.update(id.0);
    let k = Scalar::from_bytes_mod_order_wide(&hash.finalize().into());
    let s = r_scalar + k * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r_bytes);
    sig[32..].copy_from_slice(s.as_bytes());
    Signature(sig)
}

fn signature_cases() -> Vec<Value> {
    let id = EventId([0x11; 32]);
    let good = key(1);
    let mut cases = Vec::new();
    let mut case = |name: &str, author: &AuthorId, sig: &Signature, error: Option<&str>| {
        cases.push(json!({
            "name": name,
            "author_hex": h(&author.0),
            "id_hex": h(&id.0),
            "signature_hex": h(&sig.0),
            "error": error,
        }));
    };
    case("ordinary signature", &good.author(), &good.sign(&id), None);
    case(
        "R with an order-8 component: valid in single and batch (cofactored equation)",
        &good.author(),
        &mixed_order_signature(1, &id),
        None,
    );
    let identity = EIGHT_TORSION[0].compress().to_bytes();
    let mut weak_r = [0u8; 64];
    weak_r[..32].copy_from_slice(&identity);
    case(
        "small-order R (identity) with S = 0",
        &good.author(),
        &Signature(weak_r),
        Some("weak_r"),
    );
    case(
        "small-order key (identity): every message would verify",
        &AuthorId(identity),
        &Signature(weak_r),
        Some("weak_key"),
    );
    let order2 = EIGHT_TORSION[4].compress().to_bytes();
    case(
        "small-order key of order 2",
        &AuthorId(order2),
        &good.sign(&id),
        Some("weak_key"),
    );
    let mut high_s = good.sign(&id).0;
    high_s[63] |= 0xf0;
    case(
        "S not reduced mod l",
        &good.author(),
        &Signature(high_s),
        Some("non_canonical_s"),
    );
    let mut bad_r = good.sign(&id).0;
    bad_r[..32].copy_from_slice(&[0xff; 32]);
    bad_r[31] = 0x7f; // y = 2^255 - 1 >= p: a non-canonical encoding
    case(
        "R encoding with y >= p",
        &good.author(),
        &Signature(bad_r),
        Some("malformed_r"),
    );
    case(
        "signature by another key",
        &good.author(),
        &key(2).sign(&id),
        Some("signature_mismatch"),
    );
    cases
}

/// Re-signs a hand-made header, for invalid cases whose signature must be fine.
fn signed_header(k: &AuthorKey, header: Header, payload: Option<Vec<u8>>) -> Vec<u8> {
    let id = header.id();
    SignedEvent {
        header,
        signature: k.sign(&id),
        payload,
    }
    .encode()
}

fn invalid_cases(valid: &[(Value, VerifiedEvent)]) -> Vec<Value> {
    let k = key(1);
    let first = &valid[0].1;
    let second = &valid[1].1;
    let good = first.encode();
    let mut cases = Vec::new();
    // Written as a count of zero bytes rather than 128 KiB of hex.
    cases.push(json!({
        "name": "oversized input",
        "envelope_zero_bytes": EVENT_BYTES_MAX + 1,
        "now": NOW.0,
        "error": "too_large",
    }));
    let mut case = |name: &str, bytes: Vec<u8>, error: &str| {
        cases
            .push(json!({ "name": name, "envelope_hex": h(&bytes), "now": NOW.0, "error": error }));
    };
    case("empty input", vec![], "truncated");
    case("cut in the signature", good[..120].to_vec(), "truncated");
    let mut extra = good.clone();
    extra.push(0);
    case("trailing byte", extra, "trailing_bytes");
    let mut flag = good.clone();
    flag[41] = 2;
    case("prev flag 2", flag, "bad_flag");
    let mut pflag = good.clone();
    pflag[88 + 64] = 9;
    case("payload flag 9", pflag, "bad_flag");
    let mut huge = good.clone();
    huge[51..55].copy_from_slice(&u32::MAX.to_be_bytes());
    case(
        "declared payload length over the limit",
        huge,
        "payload_too_large",
    );

    let base = *first.header();
    let payload = first.payload_bytes().map(<[u8]>::to_vec);
    let mut header = base;
    header.version = 2;
    case(
        "unknown format version",
        signed_header(&k, header, payload.clone()),
        "unsupported_version",
    );
    let mut header = base;
    header.seq = 0;
    case(
        "seq 0",
        signed_header(&k, header, payload.clone()),
        "seq_zero",
    );
    let mut header = base;
    header.seq = 2;
    case(
        "seq 2 without prev",
        signed_header(&k, header, payload.clone()),
        "prev_shape",
    );
    let mut header = base;
    header.created_at = NOW.saturating_add_millis(CREATED_AT_FUTURE_MS_MAX + 1);
    case(
        "created_at beyond the clock bound",
        signed_header(&k, header, payload.clone()),
        "from_the_future",
    );

    let mut tampered = good.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    case("payload tampered after signing", tampered, "payload_hash");

    let mut forged = second.encode();
    forged[HEADER_SIG_OFFSET_WITH_PREV + 5] ^= 0x01;
    case("signature bit flipped", forged, "signature_mismatch");

    let garbage = b"\x01not postcard at all".to_vec();
    let mut header = base;
    header.payload_len = garbage.len() as u32;
    header.payload_hash = PayloadHash::of(&garbage);
    case(
        "post payload that does not decode",
        signed_header(&k, header, Some(garbage)),
        "payload_malformed",
    );

    let overlong = {
        let mut p = vec![0x85, 0x00];
        p.extend_from_slice(b"hello");
        p.extend_from_slice(&[0, 0, 0, 0, 0]);
        p
    };
    let mut header = base;
    header.payload_len = overlong.len() as u32;
    header.payload_hash = PayloadHash::of(&overlong);
    case(
        "post payload with an overlong varint",
        signed_header(&k, header, Some(overlong)),
        "payload_not_canonical",
    );

    let bad_label = Payload::Label(Label {
        target: LabelTarget::Author(k.author()),
        value: "Not A Label".into(),
        reason: None,
        expires_at: None,
        negate: false,
    })
    .encode();
    let mut header = base;
    header.kind = Kind::LABEL;
    header.payload_len = bad_label.len() as u32;
    header.payload_hash = PayloadHash::of(&bad_label);
    case(
        "label value with spaces and capitals",
        signed_header(&k, header, Some(bad_label)),
        "payload_field_invalid",
    );

    // Someone else's post cannot be edited: the signer must be the target's author.
    let foreign_edit = Payload::Edit(Edit {
        target: EventRef {
            author: key(2).author(),
            id: second.id(),
        },
        text: "not yours".into(),
        topics: Vec::new(),
    })
    .encode();
    let mut header = base;
    header.kind = Kind::EDIT;
    header.payload_len = foreign_edit.len() as u32;
    header.payload_hash = PayloadHash::of(&foreign_edit);
    case(
        "edit signed by someone other than the post's author",
        signed_header(&k, header, Some(foreign_edit)),
        "payload_field_invalid",
    );
    cases
}

/// Offset of the signature in an envelope whose header has a prev.
const HEADER_SIG_OFFSET_WITH_PREV: usize = handbill_protocol::event::HEADER_BYTES_MAX;

fn build_all() -> Value {
    let valid = build_valid();
    let invalid = invalid_cases(&valid);
    json!({
        "description": "Handbill event format conformance vectors. See protocol/src/event.rs for the layout.",
        "format_version": FORMAT_VERSION,
        "now": NOW.0,
        "valid": valid.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>(),
        "invalid": invalid,
        "signatures": signature_cases(),
    })
}

#[test]
fn vectors_match_the_committed_file() {
    let built = build_all();
    let path = vectors_path();
    if std::env::var_os("HANDBILL_UPDATE_VECTORS").is_some() {
        let text = serde_json::to_string_pretty(&built).expect("json") + "\n";
        std::fs::write(&path, text).expect("write vectors");
    }
    let text = std::fs::read_to_string(&path).expect("protocol/vectors/events.json is committed");
    let committed: Value = serde_json::from_str(&text).expect("vectors are JSON");
    assert_eq!(
        committed, built,
        "the wire format drifted from protocol/vectors/events.json"
    );
}

#[test]
fn committed_valid_events_decode_and_verify() {
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(vectors_path()).expect("vectors file"))
            .expect("json");
    let now = Timestamp(committed["now"].as_u64().expect("now"));
    for case in committed["valid"].as_array().expect("valid cases") {
        let name = case["name"].as_str().expect("name");
        let event = verify_bytes(&unhex(&case["envelope_hex"]), now)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(h(&event.header().encode()), case["header_hex"], "{name}");
        assert_eq!(event.id().to_string(), case["id"], "{name}");
        assert_eq!(h(&event.signature().0), case["signature_hex"], "{name}");
        assert_eq!(
            event.payload_bytes().map(h).as_deref(),
            case["payload_hex"].as_str(),
            "{name}"
        );
        assert!(
            event.content().is_some_and(|c| c.kind().is_known()),
            "{name}"
        );
        let topics: Vec<String> = topics_for(&event).iter().map(|a| a.to_string()).collect();
        assert_eq!(serde_json::json!(topics), case["topics"], "{name}: routing");
    }
}

#[test]
fn committed_invalid_events_give_their_errors() {
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(vectors_path()).expect("vectors file"))
            .expect("json");
    let cases = committed["invalid"].as_array().expect("invalid cases");
    assert!(cases.len() >= 15);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let now = Timestamp(case["now"].as_u64().expect("now"));
        let bytes = match case["envelope_zero_bytes"].as_u64() {
            Some(n) => vec![0u8; usize::try_from(n).expect("fits")],
            None => unhex(&case["envelope_hex"]),
        };
        let err = verify_bytes(&bytes, now)
            .err()
            .unwrap_or_else(|| panic!("{name}: accepted"));
        assert_eq!(err.code(), case["error"], "{name}: {err}");
    }
}

#[test]
fn committed_signature_cases_agree_in_single_and_batch() {
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(vectors_path()).expect("vectors file"))
            .expect("json");
    let cases = committed["signatures"].as_array().expect("signature cases");
    let parsed: Vec<(AuthorId, EventId, Signature)> = cases
        .iter()
        .map(|c| {
            let a: [u8; 32] = unhex(&c["author_hex"]).try_into().expect("32 bytes");
            let i: [u8; 32] = unhex(&c["id_hex"]).try_into().expect("32 bytes");
            let s: [u8; 64] = unhex(&c["signature_hex"]).try_into().expect("64 bytes");
            (AuthorId(a), EventId(i), Signature(s))
        })
        .collect();
    let items: Vec<SignedId<'_>> = parsed
        .iter()
        .map(|(author, id, signature)| SignedId {
            author,
            id,
            signature,
        })
        .collect();
    let batch = signature::verify_batch(&items);
    for ((case, item), batched) in cases.iter().zip(&items).zip(&batch) {
        let name = case["name"].as_str().expect("name");
        let single = signature::verify(item);
        assert_eq!(single, *batched, "{name}: single and batch disagree");
        assert_eq!(
            single.err().map(|e| e.code()),
            case["error"].as_str(),
            "{name}"
        );
    }
    // Each valid case also passes in a batch of only valid signatures, so no invalid neighbour
    // forced the per-signature fallback that would hide a batch-equation disagreement.
    let valid: Vec<SignedId<'_>> = cases
        .iter()
        .zip(&items)
        .filter(|(c, _)| c["error"].is_null())
        .map(|(_, item)| *item)
        .collect();
    assert!(signature::verify_batch(&valid).iter().all(Result::is_ok));
}

#[test]
fn cofactorless_strict_verification_would_reject_the_mixed_order_case() {
    // Pins why we do not use verify_strict: it disagrees with any batch equation on this input.
    let id = EventId([0x11; 32]);
    let sig = mixed_order_signature(1, &id);
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&key(1).author().0).expect("valid key");
    let dalek_sig = ed25519_dalek::Signature::from_bytes(&sig.0);
    assert!(vk.verify_strict(&id.0, &dalek_sig).is_err());
    let author = key(1).author();
    assert_eq!(
        signature::verify(&SignedId {
            author: &author,
            id: &id,
            signature: &sig
        }),
        Ok(())
    );
}
