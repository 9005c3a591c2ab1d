//! The specs and the default world as built into the binary (see
//! `build.rs`), parsed once per process.

use std::sync::OnceLock;

use super::{SourceFile, SpecSet};

mod files {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// The default world file's text, as built in.
pub fn default_world_text() -> &'static str {
    files::DEFAULT_WORLD
}

/// The built-in specs. They were checked when the crate was tested; a
/// build whose specs do not load is a broken build, reported here as an
/// empty set plus the diagnostics, never as a panic.
pub(super) fn specs() -> &'static SpecSet {
    static SPECS: OnceLock<SpecSet> = OnceLock::new();
    SPECS.get_or_init(|| match SpecSet::load_files(&sources()) {
        Ok(specs) => specs,
        Err(diagnostics) => {
            eprintln!("error: the built-in specs do not load:\n{diagnostics}");
            SpecSet::empty()
        }
    })
}

/// The built-in spec files.
pub fn sources() -> Vec<SourceFile> {
    files::SPEC_FILES
        .iter()
        .map(|(path, text)| SourceFile {
            path: path.to_string(),
            text: text.to_string(),
        })
        .collect()
}
