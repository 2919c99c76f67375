//! Sweeps across machines, on the schedulers people already have (Slurm job arrays, GNU
//! parallel): `--shard I/N` runs every N-th run of the grid starting at run I−1 and writes its
//! rows with a header that names the sweep; `merge` checks that the shards are all of one sweep,
//! each once, with every run present, and builds the same files a single-machine sweep writes.
//! Runs are dealt out round-robin so a parameter that makes runs slow is spread over all shards.

use super::{COLUMNS, Plan, RunRow};
use std::collections::BTreeMap;

/// Which slice of the grid to run: shard `index` of `count`, counted from 1 (as Slurm's
/// `SLURM_ARRAY_TASK_ID` with `--array=1-N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1..=count.
    pub index: usize,
    /// Shards in all.
    pub count: usize,
}

impl Shard {
    /// Parses `I/N` with 1 ≤ I ≤ N.
    pub fn parse(arg: &str) -> Result<Shard, MergeError> {
        let bad = || MergeError::ShardSpec(arg.to_string());
        let (i, n) = arg.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether run `run` (grid order, from 0) belongs to this shard.
    pub fn holds(&self, run: usize) -> bool {
        run % self.count == self.index - 1
    }
}

/// Why shards could not be read or merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// `--shard` is not `I/N` with 1 ≤ I ≤ N.
    #[error("--shard {0:?}: expected I/N with 1 ≤ I ≤ N, e.g. 3/8")]
    ShardSpec(String),
    /// A file is not a shard file, or is damaged.
    #[error("{file}: not a handbill-sim shard file ({why})")]
    NotAShard {
        /// The file.
        file: String,
        /// What is wrong.
        why: String,
    },
    /// Two files come from different sweeps (scenario, overrides, grid or seeds differ).
    #[error("{file} is from another sweep (grid {found}, expected {expected})")]
    OtherSweep {
        /// The file.
        file: String,
        /// Its grid id.
        found: String,
        /// The first file's grid id.
        expected: String,
    },
    /// The same shard was given twice.
    #[error("shard {index}/{count} was given twice")]
    Duplicate {
        /// The shard.
        index: usize,
        /// Shards in all.
        count: usize,
    },
    /// Some shards are missing.
    #[error("shards missing: {missing} (of {count}); run them with --shard I/{count}")]
    Missing {
        /// The missing shard numbers.
        missing: String,
        /// Shards in all.
        count: usize,
    },
    /// A file could not be read.
    #[error("reading {file}")]
    Io {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

const MAGIC: &str = "# handbill-sim sweep shard";

/// The shard file: a header naming the sweep and the slice, then the slice's rows as CSV (the
/// columns of a runs table, so a shard is readable on its own).
pub fn shard_file(plan: &Plan, shard: Shard, rows: Vec<RunRow>) -> String {
    let params: Vec<String> = plan.params.iter().map(|p| p.key.clone()).collect();
    let outcome = super::finish(&params, rows);
    let mut text = format!(
        "{MAGIC} {}/{}\n# grid {}\n# runs {}\n# params {}\n# plots {}\n",
        shard.index,
        shard.count,
        plan.grid_id,
        plan.len(),
        params.join(" "),
        plan.plots.join(" "),
    );
    text.push_str(outcome.runs.as_str());
    text
}

/// A shard file read back.
#[derive(Debug)]
pub struct ShardFile {
    /// Which slice it holds.
    pub shard: Shard,
    /// The sweep it belongs to.
    pub grid_id: String,
    /// Runs in the whole grid.
    pub runs: usize,
    /// The swept parameters' keys.
    pub params: Vec<String>,
    /// The charts the sweep asked for.
    pub plots: Vec<String>,
    /// Its rows.
    pub rows: Vec<RunRow>,
}

/// Parses a shard file's text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<ShardFile, MergeError> {
    let bad = |why: &str| MergeError::NotAShard {
        file: file.to_string(),
        why: why.to_string(),
    };
    let mut lines = text.lines();
    let mut header = |key: &str| -> Result<String, MergeError> {
        let line = lines.next().ok_or_else(|| bad("it ends early"))?;
        line.strip_prefix(key)
            .map(|rest| rest.trim().to_string())
            .ok_or_else(|| bad(&format!("expected a {key:?} line")))
    };
    let shard = Shard::parse(&header(MAGIC)?).map_err(|_| bad("bad shard number"))?;
    let grid_id = header("# grid")?;
    let runs: usize = header("# runs")?
        .parse()
        .map_err(|_| bad("bad run count"))?;
    let words = |s: String| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let params = words(header("# params")?);
    let plots = words(header("# plots")?);
    let columns: Vec<&str> = lines
        .next()
        .ok_or_else(|| bad("no column line"))?
        .split(',')
        .collect();
    let fixed = 2 + params.len();
    if columns.len() < fixed + COLUMNS.len()
        || columns[..2] != ["run", "seed"]
        || columns[2..fixed] != params.iter().map(String::as_str).collect::<Vec<_>>()[..]
    {
        return Err(bad("its columns are not a sweep's"));
    }
    let mut rows = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != columns.len() {
            return Err(bad("a row has the wrong number of cells"));
        }
        let run: usize = cells[0].parse().map_err(|_| bad("bad run index"))?;
        if run >= runs || !shard.holds(run) {
            return Err(bad("a row's run is not in this shard"));
        }
        let figures: BTreeMap<String, String> = columns[fixed..]
            .iter()
            .zip(&cells[fixed..])
            .map(|(c, v)| (c.to_string(), v.to_string()))
            .collect();
        rows.push(RunRow {
            run,
            seed: cells[1].parse().map_err(|_| bad("bad seed"))?,
            values: cells[2..fixed].iter().map(|v| v.to_string()).collect(),
            figures,
        });
    }
    Ok(ShardFile {
        shard,
        grid_id,
        runs,
        params,
        plots,
        rows,
    })
}

/// Merges shard files (any order) into the sweep's outcome and the charts it asked for.
pub fn merge(files: Vec<ShardFile>) -> Result<(super::Outcome, Vec<String>), MergeError> {
    let Some(first) = files.first() else {
        return Err(MergeError::Missing {
            missing: "all".into(),
            count: 0,
        });
    };
    let (grid_id, count, runs) = (first.grid_id.clone(), first.shard.count, first.runs);
    let (params, plots) = (first.params.clone(), first.plots.clone());
    let mut seen = vec![false; count];
    let mut rows = Vec::new();
    for file in files {
        if file.grid_id != grid_id || file.shard.count != count || file.runs != runs {
            return Err(MergeError::OtherSweep {
                file: format!("shard {}/{}", file.shard.index, file.shard.count),
                found: file.grid_id,
                expected: grid_id,
            });
        }
        let slot = &mut seen[file.shard.index - 1];
        if *slot {
            return Err(MergeError::Duplicate {
                index: file.shard.index,
                count,
            });
        }
        *slot = true;
        rows.extend(file.rows);
    }
    let missing: Vec<String> = (1..=count)
        .filter(|i| !seen[i - 1])
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing {
            missing: missing.join(", "),
            count,
        });
    }
    if rows.len() != runs {
        return Err(MergeError::NotAShard {
            file: "the shards".into(),
            why: format!("they hold {} runs of {runs}", rows.len()),
        });
    }
    Ok((super::finish(&params, rows), plots))
}

/// Reads and merges shard files from disk.
pub fn merge_files(
    paths: &[std::path::PathBuf],
) -> Result<(super::Outcome, Vec<String>), MergeError> {
    let mut files = Vec::new();
    for path in paths {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| MergeError::Io {
            file: name.clone(),
            source,
        })?;
        files.push(parse(&name, &text)?);
    }
    merge(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_deal_runs_round_robin_and_cover_each_once() {
        let shards: Vec<Shard> = (1..=3).map(|i| Shard { index: i, count: 3 }).collect();
        for run in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.holds(run)).count(), 1);
        }
        assert!(shards[0].holds(0) && shards[0].holds(3) && shards[2].holds(8));
    }

    #[test]
    fn a_shard_is_i_of_n_counted_from_one() {
        assert_eq!(Shard::parse("2/5").ok(), Some(Shard { index: 2, count: 5 }));
        for bad in ["0/5", "6/5", "5", "a/b", "1/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn damaged_shard_files_are_refused() {
        assert!(matches!(
            parse("x", "run,seed\n0,1\n"),
            Err(MergeError::NotAShard { .. })
        ));
        let text =
            "# handbill-sim sweep shard 1/2\n# grid g\n# runs 2\n# params \n# plots \nrun,seed\n";
        assert!(matches!(
            parse("x", text),
            Err(MergeError::NotAShard { .. })
        ));
    }
}
