//! The store's layout version and the migrations between versions, run when a store is opened,
//! so a node upgraded in place keeps its data.
//!
//! Versions:
//! 1. The first layout (no `format` key): `tombstones` maps an id to one deleting author, the
//!    last writer winning (so a stranger's delete could replace the author's).
//! 2. `deletions` keeps one key per (id, deleter), so every deleter's record stands.
//! 3. `references` and `terms` index every held payload (counts, edit history, search).

use super::backend;
use handbill_protocol::store::StoreError;
use handbill_protocol::{AuthorId, EventId};
use sled::Transactional;

/// The layout this build writes.
pub const CURRENT: u32 = 3;

const FORMAT_KEY: &[u8] = b"format";

/// The key of a deletion record: the id, then the deleter.
pub fn deletion_key(id: &EventId, deleter: &AuthorId) -> [u8; 64] {
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(&id.0);
    key[32..].copy_from_slice(&deleter.0);
    key
}

/// Brings the store at `db` to [`CURRENT`], or refuses a store written by a newer build.
pub fn migrate(db: &sled::Db) -> Result<(), StoreError> {
    let meta = db.open_tree("meta").map_err(backend)?;
    let version = match meta.get(FORMAT_KEY).map_err(backend)? {
        Some(bytes) => u32::from_be_bytes(
            <[u8; 4]>::try_from(bytes.as_ref())
                .map_err(|_| StoreError::Corrupt("format version is not 4 bytes".into()))?,
        ),
        None => 1,
    };
    if version > CURRENT {
        return Err(StoreError::NewerFormat {
            found: version,
            supported: CURRENT,
        });
    }
    if version < 2 {
        tombstones_per_deleter(db)?;
    }
    if version < 3 {
        index_payloads(db)?;
    }
    if version < CURRENT || meta.get(FORMAT_KEY).map_err(backend)?.is_none() {
        meta.insert(FORMAT_KEY, &CURRENT.to_be_bytes())
            .map_err(backend)?;
        db.flush().map_err(backend)?;
    }
    Ok(())
}

/// 1 → 2: copies every `tombstones` record into `deletions`, then drops the old tree. Safe to
/// repeat after a crash part-way: copying is idempotent and the version is written last.
fn tombstones_per_deleter(db: &sled::Db) -> Result<(), StoreError> {
    let old = db.open_tree("tombstones").map_err(backend)?;
    let new = db.open_tree("deletions").map_err(backend)?;
    for entry in old.iter() {
        let (id, deleter) = entry.map_err(backend)?;
        let (Ok(id), Ok(deleter)) = (
            <[u8; 32]>::try_from(id.as_ref()),
            <[u8; 32]>::try_from(deleter.as_ref()),
        ) else {
            return Err(StoreError::Corrupt(
                "a tombstone is not two 32-byte ids".into(),
            ));
        };
        new.insert(deletion_key(&EventId(id), &AuthorId(deleter)), &[])
            .map_err(backend)?;
    }
    new.flush().map_err(backend)?;
    drop(old);
    db.drop_tree("tombstones").map_err(backend)?;
    Ok(())
}

/// 2 → 3: indexes the references and search terms of every held payload. Idempotent (keys
/// only), so a crash part-way is repaired by running it again; the version is written last.
fn index_payloads(db: &sled::Db) -> Result<(), StoreError> {
    let events = db.open_tree("events").map_err(backend)?;
    let references = db.open_tree("references").map_err(backend)?;
    let terms = db.open_tree("terms").map_err(backend)?;
    for entry in events.iter() {
        let (_, bytes) = entry.map_err(backend)?;
        let event = super::decode_stored(&bytes)?;
        if event.payload_bytes().is_none() {
            continue;
        }
        (&references, &terms)
            .transaction(|(references, terms)| {
                super::indexes::write_payload_indexes(references, terms, &event, true)
            })
            .map_err(super::tx_error)?;
    }
    db.flush().map_err(backend)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_store_keeps_its_tombstones_and_is_marked_current() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::open(dir.path()).expect("open");
        let id = EventId([1; 32]);
        let author = AuthorId([2; 32]);
        db.open_tree("tombstones")
            .expect("tree")
            .insert(id.0, &author.0)
            .expect("insert");
        migrate(&db).expect("migrate");
        let deletions = db.open_tree("deletions").expect("tree");
        assert!(
            deletions
                .contains_key(deletion_key(&id, &author))
                .expect("read")
        );
        assert!(!db.tree_names().iter().any(|n| n.as_ref() == b"tombstones"));
        let meta = db.open_tree("meta").expect("tree");
        assert_eq!(
            meta.get(FORMAT_KEY).expect("read").as_deref(),
            Some(&CURRENT.to_be_bytes()[..])
        );
        // Opening again changes nothing.
        migrate(&db).expect("migrate again");
    }

    #[test]
    fn a_store_from_a_newer_build_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::open(dir.path()).expect("open");
        db.open_tree("meta")
            .expect("tree")
            .insert(FORMAT_KEY, &(CURRENT + 1).to_be_bytes())
            .expect("insert");
        assert!(matches!(
            migrate(&db),
            Err(StoreError::NewerFormat { found, .. }) if found == CURRENT + 1
        ));
    }
}
