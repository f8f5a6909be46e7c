//! Site keys and signed statements: a reply verifies only against its own site's key and
//! only as it was signed; key files are never replaced and the secret is owner-only.

use std::os::unix::fs::PermissionsExt as _;

use rapha_federation::signing::{PublicKey, SiteKey, Statement, verify};

fn statement(site: &str) -> Statement {
    Statement {
        site: site.to_owned(),
        round: 2,
        files: [("adapter_model.safetensors", "a"), ("metrics.json", "b")].map(|(n, h)| (n.to_owned(), h.repeat(64))).into(),
        recipe_sha256: "c".repeat(64),
        plugin_sha256: "d".repeat(64),
        model_sha256: "e".repeat(64),
    }
}

#[test]
fn a_saved_key_signs_what_its_public_key_verifies() {
    let dir = tempfile::tempdir().expect("a folder");
    let (secret, public) = SiteKey::generate("north").expect("a key").save(dir.path()).expect("saved");
    assert_eq!(std::fs::metadata(&secret).expect("secret").permissions().mode() & 0o777, 0o600);
    let key = SiteKey::load(&secret).expect("loads");
    let trusted = [PublicKey::load(&public).expect("loads"), SiteKey::generate("south").expect("a key").public()];
    let signed = key.sign(statement("north")).expect("signs");
    assert_eq!(verify(&signed, &trusted).expect("verifies"), "north");

    let again = SiteKey::generate("north").expect("a key").save(dir.path()).expect_err("never replaced").to_string();
    assert!(again.contains("north.key`: already exists"), "{again}");
}

#[test]
fn a_changed_statement_another_key_or_an_unknown_site_is_refused() {
    let north = SiteKey::generate("north").expect("a key");
    let impostor = SiteKey::generate("north").expect("a key");
    let trusted = [north.public()];
    let signed = north.sign(statement("north")).expect("signs");

    let mut changed = signed.clone();
    changed.statement.files.insert("adapter_model.safetensors".to_owned(), "f".repeat(64));
    let error = verify(&changed, &trusted).expect_err("a changed adapter").to_string();
    assert!(error.contains("site `north`: the signature does not match the statement"), "{error}");
    let mut later = signed.clone();
    later.statement.round = 3;
    assert!(verify(&later, &trusted).is_err(), "a replayed reply of another round");

    let forged = impostor.sign(statement("north")).expect("signs");
    assert!(verify(&forged, &trusted).is_err(), "another key under the same name");

    let east = SiteKey::generate("east").expect("a key").sign(statement("east")).expect("signs");
    let error = verify(&east, &trusted).expect_err("unknown").to_string();
    assert!(error.contains("site `east` is not among the federation's public keys"), "{error}");

    for bad in ["", "North", "../north", &"n".repeat(49)] {
        assert!(SiteKey::generate(bad).is_err(), "site name {bad:?}");
    }

    let error = north.sign(statement("south")).expect_err("signs only for itself").to_string();
    assert!(error.contains("the key of `north` cannot sign for `south`"), "{error}");
}
