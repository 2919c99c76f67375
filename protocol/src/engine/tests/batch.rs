//! Group commit: gossip that arrives together is judged exactly as it would be one by one.

use super::{Net, T0, net_author};
use crate::engine::{Acceptance, GossipMessage};
use crate::payload::{Payload, Post};
use crate::signature::AuthorKey;
use crate::store::Store;
use crate::validate::sign_next;

fn message(topic: u8, data: &[u8]) -> GossipMessage<'_, usize> {
    GossipMessage {
        from: 0,
        topic: net_author(topic),
        data,
    }
}

#[test]
fn a_gossip_batch_is_judged_as_one_by_one() {
    let mut net = Net::new(3);
    net.follow(1, net.author(0));
    net.follow(2, net.author(0));
    let posts: Vec<_> = (0..3).map(|i| net.post(0, &format!("post {i}"))).collect();
    let mut forged = posts[0].encode();
    forged[crate::event::HEADER_BYTES_MIN + 3] ^= 1;
    let stranger = AuthorKey::from_secret_bytes(&[99; 32]);
    let off_topic = sign_next(
        &stranger,
        None,
        T0,
        &Payload::Post(Post {
            text: "not about you".into(),
            ..Post::default()
        }),
    )
    .expect("sign");
    let data: Vec<Vec<u8>> = vec![
        b"garbage".to_vec(),
        forged,
        posts[0].encode(),
        posts[0].encode(),
        posts[1].encode(),
        off_topic.encode(),
        posts[2].encode(),
    ];
    let expected = [
        Acceptance::Reject,
        Acceptance::Reject,
        Acceptance::Accept,
        Acceptance::Ignore,
        Acceptance::Accept,
        Acceptance::Reject,
        Acceptance::Accept,
    ];
    let one_by_one: Vec<Acceptance> = data
        .iter()
        .map(|d| net.nodes[1].handle_gossip(&0, &net_author(0), d, T0))
        .collect();
    assert_eq!(one_by_one, expected);
    let messages: Vec<_> = data.iter().map(|d| message(0, d)).collect();
    assert_eq!(net.nodes[2].handle_gossip_batch(&messages, T0), expected);
    for post in &posts {
        assert!(net.has(2, &post.id()));
    }
    assert!(!net.has(2, &off_topic.id()));
    assert_eq!(
        net.nodes[1].store().counts().expect("counts"),
        net.nodes[2].store().counts().expect("counts")
    );
}

#[test]
fn a_label_in_a_batch_acts_on_the_messages_after_it() {
    let mut net = Net::new(3);
    let (node, moderator) = (1, 2);
    net.follow(node, net.author(0));
    net.follow(node, net.author(moderator));
    net.nodes[node]
        .update_settings(
            |s| {
                s.host_policy
                    .refused_labels
                    .insert((net_author(moderator as u8), "spam".into()));
            },
            T0,
        )
        .expect("policy");
    let post = net.post(0, "buy now");
    let label = net.label(moderator, &post, "spam");
    let (label_bytes, post_bytes) = (label.encode(), post.encode());
    let messages = [
        message(moderator as u8, &label_bytes),
        message(0, &post_bytes),
    ];
    assert_eq!(
        net.nodes[node].handle_gossip_batch(&messages, T0),
        [Acceptance::Accept, Acceptance::Ignore]
    );
    assert!(net.has(node, &label.id()));
    assert!(
        !net.has(node, &post.id()),
        "the refused post is not carried"
    );
}
