//! The layers of docs/architecture.md, checked on the source: every top-level module of `src/`
//! belongs to one layer and uses only its own layer and those below; no two modules use each
//! other, however indirectly; the channels `web` and `cli` never name the store. The check reads
//! the code as text: every `crate::<module>` path (also inside `use crate::{…}` groups) in a
//! module's files, leaving out comments and test code (`tests.rs` files and the
//! `#[cfg(test)] mod tests` block that ends a file — tests may set up data through any module).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top to bottom. A module may use modules of its own layer (without a cycle) and of the layers
/// below it. A new module must be placed here (and in docs/architecture.md).
const LAYERS: &[(&str, &[&str])] = &[
    ("channels", &["app", "bench", "cli", "demo", "mail", "web"]),
    (
        "capabilities",
        &[
            "accounts",
            "citizen",
            "escalation",
            "kb",
            "notify",
            "referral",
            "routing",
            "search",
            "sla",
            "stats",
            "survey",
            "tenants",
            "tickets",
        ],
    ),
    (
        "shared services",
        &[
            "delivery",
            "egress",
            "error",
            "outbox",
            "telemetry",
            "text",
            "tls",
        ],
    ),
    ("store", &["store"]),
    ("foundation", &["config", "domain", "secrets"]),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level modules: `src/<name>.rs` and `src/<name>/`, except the crate roots and binaries.
fn modules() -> BTreeSet<String> {
    std::fs::read_dir(src())
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            if e.path().is_dir() {
                (name != "bin").then_some(name)
            } else {
                let stem = name.strip_suffix(".rs")?;
                (!["lib", "main"].contains(&stem)).then(|| stem.to_string())
            }
        })
        .collect()
}

fn files_of(module: &str) -> Vec<PathBuf> {
    let single = src().join(format!("{module}.rs"));
    if single.is_file() {
        return vec![single];
    }
    let mut out = vec![];
    let mut todo = vec![src().join(module)];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A file's code without comments and without its test module.
fn code(path: &Path) -> String {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return String::new();
    }
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        // A trailing comment (a "//" that is not part of a string such as a URL).
        let line = match line.find(" // ") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The top-level modules a piece of code names through `crate::`.
fn named(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        // `arendo::crate::` cannot occur; `$crate::` in macros is not ours to check.
        if code[..i].ends_with('$') {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the first segment of each top-level item.
            let mut depth = 0;
            let mut items = vec![];
            let mut start = 0;
            for (j, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        items.push(&group[start..j]);
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(&group[start..j]);
                        start = j + 1;
                    }
                    _ => {}
                }
            }
            items
        } else {
            vec![rest]
        };
        for item in names {
            let first: String = item
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if modules.contains(&first) {
                found.insert(first);
            }
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    modules
        .iter()
        .map(|m| {
            let mut uses = BTreeSet::new();
            for f in files_of(m) {
                uses.extend(named(&code(&f), &modules));
            }
            uses.remove(m);
            (m.clone(), uses)
        })
        .collect()
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, ms)| ms.contains(&module))
}

/// A cycle through `start`, if there is one: the modules along it.
fn cycle_from(
    g: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    at: &str,
    path: &mut Vec<String>,
    seen: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    for next in &g[at] {
        if next == start {
            let mut c = path.clone();
            c.push(start.to_string());
            return Some(c);
        }
        if seen.insert(next.clone()) {
            path.push(next.clone());
            if let Some(c) = cycle_from(g, start, next, path, seen) {
                return Some(c);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn every_module_has_a_layer_and_uses_only_its_own_and_those_below() {
    let g = graph();
    let mut wrong = vec![];
    for (m, uses) in &g {
        let Some(mine) = layer_of(m) else {
            wrong.push(format!(
                "src/{m} is in no layer: add it to LAYERS and docs/architecture.md"
            ));
            continue;
        };
        for u in uses {
            match layer_of(u) {
                Some(theirs) if theirs < mine => wrong.push(format!(
                    "{m} ({}) uses {u} ({}), a layer above it",
                    LAYERS[mine].0, LAYERS[theirs].0
                )),
                _ => {}
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_two_modules_use_each_other() {
    let g = graph();
    let mut cycles = vec![];
    for m in g.keys() {
        let mut path = vec![m.clone()];
        if let Some(c) = cycle_from(&g, m, m, &mut path, &mut BTreeSet::new()) {
            cycles.push(c.join(" → "));
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_store_config_and_domain_use_nothing_above_them() {
    let g = graph();
    for (m, may) in [
        ("domain", &[][..]),
        ("secrets", &[][..]),
        ("config", &["domain", "secrets"][..]),
        ("store", &["domain", "config", "secrets"][..]),
    ] {
        let extra: Vec<&String> = g[m].iter().filter(|u| !may.contains(&u.as_str())).collect();
        assert!(extra.is_empty(), "{m} uses {extra:?}");
    }
}

#[test]
fn web_pages_the_api_and_the_cli_never_touch_the_store() {
    let mut found = vec![];
    for dir in ["web", "cli"] {
        for f in files_of(dir) {
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                let t = line.trim_start();
                if t.starts_with("//") {
                    continue;
                }
                let names_store = line.contains("store::")
                    || named(line, &BTreeSet::from(["store".to_string()])).contains("store");
                if names_store {
                    found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "channels go through use cases, never the store:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_what_it_checks() {
    // The reader finds plain paths, groups and nested groups, and leaves out comments and tests.
    let modules: BTreeSet<String> = ["store", "tickets", "kb", "mail"]
        .into_iter()
        .map(String::from)
        .collect();
    let code_of = |s: &str| {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.rs");
        std::fs::write(&p, s).unwrap();
        code(&p)
    };
    let c = code_of(
        "use crate::{kb::{self, Kb}, store};\nfn f() { crate::tickets::get(); } // crate::mail::x\n\
         // crate::mail::y\n#[cfg(test)]\nmod tests {\n    use crate::mail::z;\n}\n",
    );
    assert_eq!(
        named(&c, &modules),
        BTreeSet::from(["kb".into(), "store".into(), "tickets".into()])
    );
}
