//! The project's inputs loaded together: specs, cases, portable scenarios
//! and the reference world, with every problem reported at once. The
//! scenarios of `cases/portable/` are compiled for every dialect with a
//! binding and join the cases, so that every command sees them as cases.

use std::path::{Path, PathBuf};

use crate::case::CaseFile;
use crate::diag::{Diagnostic, Diagnostics};
use crate::dialect::DialectId;
use crate::emulator::world::WorldFile;
use crate::spec::SpecSet;

/// Where the inputs are. Specs and world default to the copies built into
/// the binary (the same files, at build time).
#[derive(Debug, Clone)]
pub struct Paths {
    pub specs: Option<PathBuf>,
    pub cases: PathBuf,
    pub world: Option<PathBuf>,
}

impl Paths {
    /// The layout of a checkout, rooted at `root`.
    pub fn under(root: &Path) -> Paths {
        Paths {
            specs: Some(root.join("specs")),
            cases: root.join("cases"),
            world: Some(root.join("cases/worlds/default.yaml")),
        }
    }
}

pub struct Project {
    /// Loaded once for the process: the runner and every emulator the run
    /// starts share them.
    pub specs: &'static SpecSet,
    /// The dialects' case files, then the portable scenarios compiled per
    /// dialect.
    pub cases: Vec<CaseFile>,
    /// One plan per portable scenario: what `compare` runs and shows.
    pub plans: Vec<crate::portable::ScenarioPlan>,
    pub world: WorldFile,
}

impl Project {
    pub fn load(paths: &Paths) -> Result<Project, Diagnostics> {
        Project::load_where(paths, &|_, _, _| true)
    }

    /// Like [`Project::load`], with only the case files and portable
    /// scenario files that may hold a case `keep` wants (given a dialect,
    /// a group and the file's text): a run of a few cases parses only
    /// their files, and the built-in specs of only their dialects.
    pub fn load_where(
        paths: &Paths,
        keep: &dyn Fn(DialectId, &str, &str) -> bool,
    ) -> Result<Project, Diagnostics> {
        let specs = match &paths.specs {
            Some(dir) => SpecSet::load_dir(dir).map(|s| &*Box::leak(Box::new(s))),
            None => Ok(SpecSet::embedded()),
        };
        let cases = crate::case::load_dir_where(&paths.cases, keep);
        let scenarios = crate::portable::load_dir_where(
            &paths.cases.join(crate::portable::FOLDER),
            &|group, text| DialectId::ALL.iter().any(|&d| keep(d, group, text)),
        );
        let world = match &paths.world {
            Some(path) => load_world(path),
            None => WorldFile::builtin().map_err(|e| Diagnostic::new("world", e.to_string())),
        };
        // Scenarios compile against the specs' bindings, so only once the
        // specs have loaded.
        let compiled = match (&specs, scenarios) {
            (Ok(specs), Ok(files)) => crate::portable::compile(&files, specs),
            (Err(_), Ok(_)) => Ok(Default::default()),
            (_, Err(d)) => Err(d),
        };
        match (specs, cases, compiled, world) {
            (Ok(specs), Ok(mut cases), Ok(compiled), Ok(world)) => {
                cases.extend(compiled.case_files);
                Ok(Project {
                    specs,
                    cases,
                    plans: compiled.plans,
                    world,
                })
            }
            (specs, cases, compiled, world) => {
                let mut all = Vec::new();
                if let Err(d) = specs {
                    all.extend(d.0);
                }
                if let Err(d) = cases {
                    all.extend(d.0);
                }
                if let Err(d) = compiled {
                    all.extend(d.0);
                }
                if let Err(d) = world {
                    all.push(d);
                }
                Err(Diagnostics(all))
            }
        }
    }

    pub fn case_count(&self) -> usize {
        self.cases.iter().map(|f| f.cases.len()).sum()
    }
}

pub fn load_world(path: &Path) -> Result<WorldFile, Diagnostic> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::new(&origin, format!("failed to read world file: {e}")))?;
    parse_world(&text, &origin)
}

/// A world file's text as the harness takes it: parsed, then built once,
/// so that a world that parses but does not hold together (an ENI in an
/// undefined subnet, an address held twice) is invalid input with
/// `file:line:col` at load, rather than an emulator that fails to start
/// for every case (`run`) or a "failed to listen" (`emulate`).
pub fn parse_world(text: &str, origin: &str) -> Result<WorldFile, Diagnostic> {
    let file = WorldFile::from_yaml(text, origin).map_err(|e| match e {
        crate::emulator::world::WorldLoadError::Parse(d) => *d,
        other => Diagnostic::new(origin, other.to_string()),
    })?;
    if let Err(e) = crate::emulator::world::World::build(&file) {
        // The object reads `eni `e1``: point at where that id is defined.
        let id = e.object.split('`').nth(1).unwrap_or_default();
        let (line, col) = definition_of(text, id).unwrap_or((1, 1));
        return Err(Diagnostic::new(origin, e.to_string())
            .at(text, line, col)
            .with_hint("see the Worlds section of docs/FORMATS.md"));
    }
    Ok(file)
}

/// The first `id: <id>` (or `name: <id>`) in `text`, quoted or not.
fn definition_of(text: &str, id: &str) -> Option<(usize, usize)> {
    if id.is_empty() {
        return None;
    }
    for (index, line) in text.lines().enumerate() {
        for key in ["id:", "name:"] {
            let mut from = 0;
            while let Some(at) = line[from..].find(key) {
                let start = from + at;
                let value = line[start + key.len()..].trim_start();
                let value = value.trim_start_matches(['"', '\'']);
                let ends = value.strip_prefix(id).is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with([',', '}', '"', '\'', ' '])
                });
                if ends {
                    return Some((index + 1, line[..start].chars().count() + 1));
                }
                from = start + key.len();
            }
        }
    }
    None
}
