//! Property tests: round trips, tamper detection, and decoders on arbitrary bytes.

use handbill_protocol::event::SignedEvent;
use handbill_protocol::payload::*;
use handbill_protocol::signature::{self, SignedId};
use handbill_protocol::validate::{CheckedEvent, verify_batch, verify_bytes};
use handbill_protocol::*;
use proptest::prelude::*;

const NOW: Timestamp = Timestamp(1_767_225_600_000);

fn author_id() -> impl Strategy<Value = AuthorId> {
    any::<[u8; 32]>().prop_map(AuthorId)
}

fn event_ref() -> impl Strategy<Value = EventRef> {
    (author_id(), any::<[u8; 32]>()).prop_map(|(author, id)| EventRef {
        author,
        id: EventId(id),
    })
}

fn post() -> impl Strategy<Value = Post> {
    (
        "\\PC{1,300}",
        proptest::option::of((event_ref(), event_ref())),
        proptest::option::of(event_ref()),
        proptest::collection::vec("[a-z0-9_]{1,12}", 0..4),
        proptest::collection::vec(author_id(), 0..3),
        proptest::collection::vec("[a-z0-9-]{1,12}", 0..3),
    )
        .prop_map(|(text, reply, quote, tags, mentions, self_labels)| Post {
            text,
            reply: reply.map(|(root, parent)| ReplyRef { root, parent }),
            quote,
            tags,
            mentions,
            self_labels,
        })
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        post().prop_map(Payload::Post),
        event_ref().prop_map(|target| Payload::Repost(Repost { target })),
        // A reaction must not be blank, so it starts with a visible character.
        (event_ref(), "[^\\s\\p{C}]\\PC{0,7}")
            .prop_map(|(target, reaction)| Payload::Reaction(Reaction { target, reaction })),
        author_id().prop_map(|author| Payload::Follow(Follow { author })),
        ("\\PC{0,40}", "\\PC{0,200}")
            .prop_map(|(name, bio)| Payload::Profile(Profile { name, bio })),
        proptest::collection::vec(any::<[u8; 32]>(), 1..5)
            .prop_map(|ids| Payload::Delete(Delete::of(ids.into_iter().map(EventId)))),
        (
            event_ref(),
            "[a-z][a-z0-9-]{0,20}",
            any::<bool>(),
            proptest::option::of(any::<u64>())
        )
            .prop_map(|(r, value, negate, expiry)| Payload::Label(Label {
                target: LabelTarget::Event(r),
                value,
                reason: None,
                expires_at: expiry.map(Timestamp),
                negate,
            })),
        (
            "[a-z][a-z ]{0,19}",
            proptest::collection::vec(author_id(), 0..20)
        )
            .prop_map(|(name, members)| {
                Payload::List(List {
                    name,
                    description: String::new(),
                    purpose: ListPurpose::Block,
                    members,
                })
            }),
    ]
}

fn key_seed() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

proptest! {
    // Failures print their minimal input; nothing is persisted into the source tree.
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn events_round_trip_through_bytes(seed in key_seed(), p in payload(), t in 0u64..NOW.0) {
        let key = AuthorKey::from_secret_bytes(&seed);
        let event = sign_next(&key, None, Timestamp(t), &p).expect("generated payloads are valid");
        let bytes = event.encode();
        let back = verify_bytes(&bytes, NOW).expect("own event verifies");
        prop_assert_eq!(back.content(), Some(&p));
        prop_assert_eq!(back, event);
    }

    #[test]
    fn any_single_flipped_bit_is_rejected(seed in key_seed(), p in payload(), bit in any::<prop::sample::Index>()) {
        let key = AuthorKey::from_secret_bytes(&seed);
        let head = LogHead { seq: 6, id: EventId([6; 32]), created_at: Timestamp(0) };
        let event = sign_next(&key, Some(&head), NOW, &p).expect("valid");
        let mut bytes = event.encode();
        let i = bit.index(bytes.len() * 8);
        bytes[i / 8] ^= 1 << (i % 8);
        prop_assert!(verify_bytes(&bytes, NOW).is_err(), "bit {} flipped and still accepted", i);
    }

    #[test]
    fn payloads_round_trip(p in payload()) {
        let bytes = p.encode();
        prop_assert_eq!(Payload::decode(p.kind(), &bytes), Ok(p));
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600), kind in 0u16..12) {
        let _ = SignedEvent::decode(&bytes);
        let _ = verify_bytes(&bytes, NOW);
        if let Ok(p) = Payload::decode(Kind(kind), &bytes) {
            // Anything accepted is canonical: it re-encodes to the same bytes.
            if p.kind().is_known() {
                prop_assert_eq!(p.encode(), bytes.clone());
            }
        }
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = AuthorId::parse(text);
            let _ = EventId::parse(text);
        }
    }

    #[test]
    fn decoded_envelopes_re_encode_identically(bytes in proptest::collection::vec(any::<u8>(), 88..400)) {
        if let Ok(event) = SignedEvent::decode(&bytes) {
            prop_assert_eq!(event.encode(), bytes);
        }
    }

    #[test]
    fn structurally_plausible_envelopes_never_panic(
        seed in key_seed(),
        p in payload(),
        cut in any::<prop::sample::Index>(),
        junk in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        // Truncations and splices of a real event reach deeper into the decoders than random bytes.
        let key = AuthorKey::from_secret_bytes(&seed);
        let bytes = sign_next(&key, None, NOW, &p).expect("valid").encode();
        let at = cut.index(bytes.len());
        let mut spliced = bytes[..at].to_vec();
        spliced.extend_from_slice(&junk);
        if spliced != bytes {
            prop_assert!(verify_bytes(&spliced, NOW).is_err());
        }
    }

    #[test]
    fn batch_and_single_verification_agree(
        seeds in proptest::collection::vec(key_seed(), 1..12),
        corrupt in proptest::collection::vec(any::<bool>(), 12),
    ) {
        let mut checked = Vec::new();
        for (i, seed) in seeds.iter().enumerate() {
            let key = AuthorKey::from_secret_bytes(seed);
            let post = Payload::Post(Post { text: format!("post {i}"), ..Post::default() });
            let mut signed = sign_next(&key, None, NOW, &post).expect("valid").signed().clone();
            if corrupt[i] {
                signed.signature.0[i % 64] ^= 0x80;
            }
            checked.push(CheckedEvent::check(signed, NOW).expect("structure is fine"));
        }
        let single: Vec<_> = checked.iter().cloned().map(CheckedEvent::verify).collect();
        prop_assert_eq!(verify_batch(checked), single);
    }

    #[test]
    fn random_signatures_never_verify_and_paths_agree(
        author in any::<[u8; 32]>(),
        id in any::<[u8; 32]>(),
        sig in proptest::collection::vec(any::<u8>(), 64),
    ) {
        let author = AuthorId(author);
        let id = EventId(id);
        let sig = Signature(sig.try_into().expect("64 bytes"));
        let item = SignedId { author: &author, id: &id, signature: &sig };
        let single = signature::verify(&item);
        prop_assert!(single.is_err());
        prop_assert_eq!(signature::verify_batch(&[item]), vec![single]);
    }
}
