//! Embeds the specs and the default world into the binary, so that
//! `ipconform emulate` (which validates every request against the specs)
//! works from any folder. Cargo reruns this when anything under `specs/`
//! or the default world changes, new files included.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(path);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=specs");
    println!("cargo:rerun-if-changed=cases/worlds/default.yaml");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let mut files = Vec::new();
    yaml_files(&manifest.join("specs"), &mut files);
    files.sort();
    let mut src = String::from("/// `(path relative to the crate, text)` of every spec file.\n");
    src.push_str("pub static SPEC_FILES: &[(&str, &str)] = &[\n");
    for file in &files {
        let relative = file
            .strip_prefix(&manifest)
            .expect("under the manifest dir")
            .to_string_lossy()
            .replace('\\', "/");
        let _ = writeln!(
            src,
            "    ({relative:?}, include_str!({:?})),",
            file.to_string_lossy()
        );
    }
    src.push_str("];\n");
    let world = manifest.join("cases/worlds/default.yaml");
    let _ = writeln!(
        src,
        "/// The default world file.\npub static DEFAULT_WORLD: &str = include_str!({:?});",
        world.to_string_lossy()
    );
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("embedded.rs");
    std::fs::write(out, src).expect("OUT_DIR is writable");
}
