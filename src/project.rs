//! The project's inputs loaded together: specs, cases and the reference
//! world, with every problem of all three reported at once.

use std::path::{Path, PathBuf};

use crate::case::CaseFile;
use crate::diag::{Diagnostic, Diagnostics};
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
    pub cases: Vec<CaseFile>,
    pub world: WorldFile,
}

impl Project {
    pub fn load(paths: &Paths) -> Result<Project, Diagnostics> {
        let specs = match &paths.specs {
            Some(dir) => SpecSet::load_dir(dir).map(|s| &*Box::leak(Box::new(s))),
            None => Ok(SpecSet::embedded()),
        };
        let cases = crate::case::load_dir(&paths.cases);
        let world = match &paths.world {
            Some(path) => load_world(path),
            None => WorldFile::builtin().map_err(|e| Diagnostic::new("world", e.to_string())),
        };
        match (specs, cases, world) {
            (Ok(specs), Ok(cases), Ok(world)) => Ok(Project {
                specs,
                cases,
                world,
            }),
            (specs, cases, world) => {
                let mut all = Vec::new();
                if let Err(d) = specs {
                    all.extend(d.0);
                }
                if let Err(d) = cases {
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
    WorldFile::load(path).map_err(|e| match e {
        crate::emulator::world::WorldLoadError::Parse(d) => *d,
        other => Diagnostic::new(path.display().to_string(), other.to_string()),
    })
}
