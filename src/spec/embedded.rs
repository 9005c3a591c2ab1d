//! The specs and the default world as built into the binary (see
//! `build.rs`). [`SpecSet::embedded`](super::SpecSet::embedded) reads them
//! one dialect at a time.

use crate::dialect::DialectId;

use super::SourceFile;

mod files {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// The default world file's text, as built in.
pub fn default_world_text() -> &'static str {
    files::DEFAULT_WORLD
}

/// The built-in spec files.
pub fn sources() -> Vec<SourceFile> {
    files::SPEC_FILES.iter().map(source).collect()
}

fn source(&(path, text): &(&str, &str)) -> SourceFile {
    SourceFile {
        path: path.to_string(),
        text: text.to_string(),
    }
}

/// The folder a built-in spec file sits in (`alibaba-ecs`, `_family`).
fn folder(path: &str) -> &str {
    path.rsplit('/').nth(1).unwrap_or_default()
}

/// The dialects the built-in specs have a folder for.
pub(super) fn dialects() -> Vec<DialectId> {
    let mut out: Vec<DialectId> = files::SPEC_FILES
        .iter()
        .filter_map(|(path, _)| folder(path).parse().ok())
        .collect();
    out.dedup();
    out
}

/// The built-in files one dialect loads from: its own folder and the
/// families (which its `_common.yaml` may name).
pub(super) fn sources_of(dialect: DialectId) -> Vec<SourceFile> {
    files::SPEC_FILES
        .iter()
        .filter(|(path, _)| {
            let folder = folder(path);
            folder == dialect.as_str() || folder == "_family"
        })
        .map(source)
        .collect()
}
