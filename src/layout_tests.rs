//! The house's rule, checked: every module imports only from its own floor or below (the
//! floors of the `# Layout` section in `lib.rs`), nothing imports the dev tooling, and there
//! is no import circle. Reads the crate's own source files; comments and test code are not
//! imports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The floors, top first, as `lib.rs` draws them.
const FLOORS: &[&[&str]] = &[
    &["server", "http", "admin", "watch"],
    &["app", "metrics"],
    &["ops"],
    &["soap", "spar"],
    &["load", "avisering"],
    &["register", "config", "tls", "expiry"],
    &["store", "audit", "fsutil"],
    &["xml", "loadfile"],
    &["access", "search", "schedule"],
    &["clock", "ids", "model", "refdata", "logging"],
];

/// Dev tooling: may use anything below the application; nothing in the service uses it.
const TOOLS: &str = "dev";

fn floor_of(module: &str) -> Option<usize> {
    FLOORS.iter().position(|f| f.contains(&module))
}

/// Top-level module → the top-level modules its non-test code names (`crate::x`).
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(&src).expect("under src");
            let name = rel.to_string_lossy();
            if !name.ends_with(".rs") || name.ends_with("tests.rs") || name.contains("/tests/") {
                continue;
            }
            let top = name
                .split('/')
                .next()
                .unwrap_or_default()
                .trim_end_matches(".rs")
                .to_owned();
            if top == "lib" || top == "main" || top == "layout_tests" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable");
            let code = text
                .split("#[cfg(test)]\nmod tests {")
                .next()
                .unwrap_or_default()
                .split("#[cfg(test)]\npub(crate) mod tests {")
                .next()
                .unwrap_or_default();
            let names = out.entry(top.clone()).or_default();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (i, _) in line.match_indices("crate::") {
                    let rest = &line[i + "crate::".len()..];
                    let rest = rest.trim_start_matches('{');
                    for part in rest.split(',') {
                        let module: String = part
                            .trim()
                            .chars()
                            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                            .collect();
                        if !module.is_empty() && module != top {
                            names.insert(module);
                        }
                        if !rest.starts_with(|c: char| c.is_ascii_lowercase())
                            || !line[i..].contains('{')
                        {
                            break;
                        }
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_module_has_a_floor() {
    for module in imports().keys() {
        assert!(
            floor_of(module).is_some() || module == TOOLS,
            "src/{module} is on no floor: add it to FLOORS here and to lib.rs's Layout"
        );
    }
}

#[test]
fn no_arrow_runs_up_and_nothing_imports_the_tools() {
    let mut wrong = Vec::new();
    for (from, names) in imports() {
        for to in names {
            if to == TOOLS && from != TOOLS {
                wrong.push(format!("{from} -> {to} (dev tooling)"));
            }
            if let (Some(a), Some(b)) = (floor_of(&from), floor_of(&to)) {
                if b < a {
                    wrong.push(format!(
                        "{from} (floor {}) -> {to} (floor {})",
                        a + 1,
                        b + 1
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "arrows against the layout: {wrong:#?}");
}

#[test]
fn there_is_no_import_circle() {
    let graph = imports();
    // Depth-first search for a back edge; the path to it is the circle.
    fn visit<'a>(
        at: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| *p == at) {
            let mut circle: Vec<String> = path[i..].iter().map(|s| s.to_string()).collect();
            circle.push(at.to_owned());
            return Some(circle);
        }
        if !done.insert(at) {
            return None;
        }
        path.push(at);
        for next in graph.get(at).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for start in graph.keys() {
        let circle = visit(start, &graph, &mut Vec::new(), &mut done);
        assert!(
            circle.is_none(),
            "import circle: {}",
            circle.unwrap_or_default().join(" -> ")
        );
    }
}
