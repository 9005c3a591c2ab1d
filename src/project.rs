//! The project's inputs loaded together: specs, cases and the reference
//! world, with every problem of all three reported at once.

use std::path::{Path, PathBuf};

use crate::case::CaseFile;
use crate::diag::{Diagnostic, Diagnostics};
use crate::emulator::world::WorldFile;
use crate::spec::SpecSet;

/// Where the inputs are.
#[derive(Debug, Clone)]
pub struct Paths {
    pub specs: PathBuf,
    pub cases: PathBuf,
    pub world: PathBuf,
}

impl Paths {
    /// The layout of a checkout, rooted at `root`.
    pub fn under(root: &Path) -> Paths {
        Paths {
            specs: root.join("specs"),
            cases: root.join("cases"),
            world: root.join("cases/worlds/default.yaml"),
        }
    }
}

pub struct Project {
    pub specs: SpecSet,
    pub cases: Vec<CaseFile>,
    pub world: WorldFile,
}

impl Project {
    pub fn load(paths: &Paths) -> Result<Project, Diagnostics> {
        let specs = SpecSet::load_dir(&paths.specs);
        let cases = crate::case::load_dir(&paths.cases);
        let world = load_world(&paths.world);
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
    WorldFile::load(path).map_err(|e| {
        // The world loader renders its own position and caret; keep its
        // text whole rather than re-deriving the location.
        Diagnostic::new(path.display().to_string(), e.to_string())
    })
}
