use super::*;

/// A `static/` folder in a temporary directory holding `files`.
fn static_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("create temp dir");
    for (name, content) in files {
        let path = dir.path().join(name);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).expect("create folder");
        }
        std::fs::write(path, content).expect("write static file");
    }
    dir
}

fn read(dir: &tempfile::TempDir) -> StaticAssets {
    StaticAssets::read_dir(dir.path()).expect("the folder is readable")
}

fn hashed_name_of(assets: &StaticAssets, plain_name: &str) -> String {
    assets
        .file(plain_name)
        .unwrap_or_else(|| panic!("{plain_name} is read"))
        .hashed_name()
        .to_owned()
}

#[test]
fn the_hashed_name_keeps_the_name_and_extension_around_the_contents_hash() {
    let dir = static_dir(&[("style.css", "body { color: black }")]);
    let assets = read(&dir);
    let file = assets.file("style.css").expect("style.css is read");

    let name_hash = &format!("{:x}", Sha256::digest(b"body { color: black }"))[..16];
    assert_eq!(file.hashed_name(), format!("style.{name_hash}.css"));
    assert_eq!(file.hashed_url(), format!("/static/style.{name_hash}.css"));
    assert_eq!(file.bytes(), b"body { color: black }");
    assert_eq!(file.content_type, ContentType::CSS);
    assert_eq!(
        file.entity_tag(),
        &EntityTag::of_bytes(b"body { color: black }")
    );
    assert!(
        file.entity_tag()
            .opaque_tag()
            .starts_with(&format!("sha256-{name_hash}")),
        "the name's hash is the start of the ETag's"
    );
}

#[test]
fn new_content_gets_a_new_address_and_the_old_one_is_outdated() {
    let dir = static_dir(&[("style.css", "body { color: black }"), ("lab.js", "1;")]);
    let before = read(&dir);
    std::fs::write(dir.path().join("style.css"), "body { color: navy }").expect("rewrite");
    let after = read(&dir);

    let old_name = hashed_name_of(&before, "style.css");
    let new_name = hashed_name_of(&after, "style.css");
    assert_ne!(old_name, new_name);
    assert!(
        matches!(after.find(&new_name), Found::Hashed(file) if file.bytes() == b"body { color: navy }")
    );
    assert!(
        matches!(after.find(&old_name), Found::Outdated(file) if file.plain_name() == "style.css"),
        "the old address is known to be old, and never means the new bytes"
    );
    assert!(
        matches!(after.find("style.css"), Found::Plain(file) if file.bytes() == b"body { color: navy }")
    );
    assert_eq!(
        hashed_name_of(&before, "lab.js"),
        hashed_name_of(&after, "lab.js"),
        "an unchanged file keeps its address, so browsers keep their copy"
    );
}

#[test]
fn the_same_content_gets_the_same_address_in_every_process() {
    let first = read(&static_dir(&[("lab.js", "console.log(1);")]));
    let second = read(&static_dir(&[("lab.js", "console.log(1);")]));
    assert_eq!(
        hashed_name_of(&first, "lab.js"),
        hashed_name_of(&second, "lab.js")
    );
}

#[test]
fn names_that_are_not_files_are_unknown() {
    let assets = read(&static_dir(&[("style.css", "a")]));
    for name in [
        "",
        "styles.css",
        "style.0123456789abcdef.js",
        "other.0123456789abcdef.css",
        "../Cargo.toml",
        "style.css/x",
    ] {
        assert!(matches!(assets.find(name), Found::Unknown), "{name:?}");
    }
    assert!(
        matches!(
            assets.find("style.0123456789abcdef.css"),
            Found::Outdated(_)
        ),
        "a made-up hash is treated as an old one"
    );
    assert!(
        matches!(assets.find("style.0123456789ABCDEF.css"), Found::Unknown),
        "hashes are written in lowercase"
    );
}

#[test]
fn files_in_folders_are_served_and_hidden_or_oddly_named_ones_are_not() {
    let assets = read(&static_dir(&[
        ("icons/cache.svg", "<svg/>"),
        ("jquery.min.js", "x"),
        ("LICENSE", "text"),
        (".style.css.swp", "editor"),
        ("my file.css", "spaces"),
        ("quote\".css", "quote"),
    ]));
    assert_eq!(
        assets.plain_names(),
        ["LICENSE", "icons/cache.svg", "jquery.min.js"]
    );
    let icon = assets
        .file("icons/cache.svg")
        .expect("read from its folder");
    assert!(icon.hashed_name().starts_with("icons/cache."));
    assert!(icon.hashed_name().ends_with(".svg"));
    assert_eq!(icon.content_type, ContentType::SVG);
    assert!(matches!(assets.find(icon.hashed_name()), Found::Hashed(_)));

    let minified = hashed_name_of(&assets, "jquery.min.js");
    assert!(minified.starts_with("jquery.min.") && minified.ends_with(".js"));
    assert!(matches!(assets.find(&minified), Found::Hashed(_)));

    let license = hashed_name_of(&assets, "LICENSE");
    assert!(license.starts_with("LICENSE."));
    assert!(matches!(assets.find(&license), Found::Hashed(_)));
    assert!(matches!(
        assets.find("LICENSE.0123456789abcdef"),
        Found::Outdated(_)
    ));
    assert_eq!(
        assets.file("LICENSE").map(|file| &file.content_type),
        Some(&ContentType::Binary)
    );
}

#[test]
fn a_missing_folder_is_an_error_that_names_it() {
    let dir = tempfile::tempdir().expect("create temp dir");
    let missing = dir.path().join("static");
    let error = StaticAssets::read_dir(&missing).expect_err("nothing to read");
    assert!(
        error.to_string().contains(&missing.display().to_string()),
        "{error}"
    );
}

#[test]
fn the_shipped_static_folder_reads_and_every_file_has_a_type() {
    let assets = StaticAssets::read_dir(Path::new(rocket::fs::relative!("static")))
        .expect("static/ is readable");
    for plain_name in ["style.css", "lab.js", "favicon.svg"] {
        let file = assets.file(plain_name).expect("shipped");
        assert_ne!(file.content_type, ContentType::Binary, "{plain_name}");
    }
}

#[test]
fn the_stylesheet_refers_to_no_other_file_by_its_address() {
    // A `url(...)` or `@import` in the stylesheet would name another file by
    // its plain address, which is only revalidated, not immutable; it would
    // need the hashed one written into the stylesheet when it is read.
    let assets = StaticAssets::read_dir(Path::new(rocket::fs::relative!("static")))
        .expect("static/ is readable");
    let css =
        String::from_utf8_lossy(assets.file("style.css").expect("shipped").bytes()).to_lowercase();
    assert!(!css.contains("url("), "style.css uses url()");
    assert!(!css.contains("@import"), "style.css uses @import");
}
