//! The node's own settings: follows, moderation preferences, host policy, list subscriptions.
//!
//! Kept in the store under one name, so they are as durable as the events, and survive restarts.

use crate::id::{AuthorId, ListId};
use crate::moderation::Preferences;
use crate::moderation::host::HostPolicy;
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The store setting name the settings live under.
pub const SETTINGS_NAME: &str = "node-settings-v1";

/// Everything the node's user and operator chose.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSettings {
    /// Authors followed.
    pub follows: BTreeSet<AuthorId>,
    /// What the user sees: feeds, mutes, lists, overrides.
    pub moderation: Preferences,
    /// What the node refuses to store or relay.
    pub host_policy: HostPolicy,
    /// Lists subscribed to, as (owner, list id).
    pub list_subscriptions: BTreeSet<(AuthorId, ListId)>,
    /// Seq of the declaration in force per feed, so an older one arriving later is ignored.
    pub declaration_seqs: BTreeMap<AuthorId, u64>,
    /// Seq of the list event in force per list.
    pub list_seqs: BTreeMap<ListId, u64>,
}

impl NodeSettings {
    /// Loads the settings, or defaults on a fresh store.
    pub fn load(store: &impl Store) -> Result<NodeSettings, StoreError> {
        match store.setting(SETTINGS_NAME)? {
            None => Ok(NodeSettings::default()),
            Some(bytes) => postcard::from_bytes(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("node settings: {e}"))),
        }
    }

    /// Writes the settings (not flushed).
    pub fn save(&self, store: &mut impl Store) -> Result<(), StoreError> {
        let bytes = postcard::to_allocvec(self).expect("postcard encodes plain data into a Vec");
        store.put_setting(SETTINGS_NAME, &bytes)
    }
}
