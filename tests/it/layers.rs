//! The module graph of `src/` (read with `syn` from the `use` lines and paths of every file) has
//! no cycle, its edges only go down the layers `src/lib.rs` maps (serving → protocols → shared
//! state → domain → db → entities), the layers below the protocols use no HTTP or GraphQL
//! crate, the protocols reach the database only through the domain, and every module is named
//! in that map.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// Top-level modules by layer, lowest first. A module may use its own layer (without a cycle)
/// and any below it.
const LAYERS: [(&str, &[&str]); 6] = [
    ("entities", &["entities"]),
    ("db", &["db"]),
    ("domain", &["domain"]),
    (
        "shared",
        &["state", "metrics", "limits", "config", "client_address"],
    ),
    ("protocols", &["scim", "graphql", "sso", "web"]),
    ("serving", &["", "serving", "connections", "request_id"]),
];

/// Crates that belong to the protocols: the domain and below never name them.
const PROTOCOL_CRATES: [&str; 5] = [
    "axum",
    "async_graphql",
    "async_graphql_axum",
    "hyper",
    "tower",
];

/// The protocols reach the database only through the domain (its `Store`): they name neither
/// these modules nor these crates.
const STORAGE_MODULES: [&str; 2] = ["db", "entities"];
const STORAGE_CRATES: [&str; 4] = ["sea_orm", "sqlx", "rusqlite", "sea_query"];

type Module = Vec<String>;

struct SourceFile {
    module: Module,
    path: PathBuf,
    syntax: syn::File,
}

/// Every module file of the library (`main.rs` is the binary: it uses the library from outside).
fn source_files() -> Vec<SourceFile> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut pending = vec![src.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path == src.join("main.rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap().with_extension("");
            let mut module: Module = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let syntax = syn::parse_file(&text)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
            files.push(SourceFile {
                module,
                path,
                syntax,
            });
        }
    }
    files.sort_by(|a, b| a.module.cmp(&b.module));
    files
}

/// A use of another module: which, and where (for the failure message).
#[derive(Clone)]
struct Use {
    target: Module,
    line: usize,
}

/// Collects the crate-internal paths one file names, resolved to absolute module paths.
struct Paths<'a> {
    /// The file's module plus the inline modules (`mod tests { … }`) being visited.
    scope: Module,
    /// Names imported by `use` in this file, to what they stand for.
    aliases: &'a HashMap<String, Module>,
    /// Child modules declared in this file (`mod users;`).
    children: &'a BTreeSet<String>,
    uses: Vec<Use>,
    external: Vec<(String, usize)>,
}

impl Paths<'_> {
    fn resolve(&self, segments: &[String]) -> Option<Module> {
        let (first, rest) = segments.split_first()?;
        let mut base = match first.as_str() {
            "crate" => Vec::new(),
            "self" => self.scope.clone(),
            "super" => {
                let mut base = self.scope.clone();
                base.pop();
                let mut rest = rest;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
                base.extend(rest.iter().cloned());
                return Some(base);
            }
            name if self.aliases.contains_key(name) => self.aliases[name].clone(),
            name if self.children.contains(name) => {
                let mut base = self.scope.clone();
                base.push(name.to_string());
                base
            }
            _ => return None,
        };
        base.extend(rest.iter().cloned());
        Some(base)
    }

    fn note(&mut self, segments: Vec<String>, line: usize) {
        match self.resolve(&segments) {
            Some(target) => self.uses.push(Use { target, line }),
            None => {
                if let Some(first) = segments.first() {
                    self.external.push((first.clone(), line));
                }
            }
        }
    }
}

/// `use a::{b, c::d as e}` as (alias, path) pairs; a glob names its module.
fn flatten(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<(String, Vec<String>)>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            let mut path = prefix.clone();
            if name != "self" {
                path.push(name.clone());
            }
            let alias = if name == "self" {
                prefix.last().cloned().unwrap_or_default()
            } else {
                name
            };
            out.push((alias, path));
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix.clone();
            if r.ident != "self" {
                path.push(r.ident.to_string());
            }
            out.push((r.rename.to_string(), path));
        }
        syn::UseTree::Glob(_) => out.push((String::new(), prefix.clone())),
        syn::UseTree::Group(g) => {
            for item in &g.items {
                flatten(item, prefix, out);
            }
        }
    }
}

fn segments(path: &syn::Path) -> Vec<String> {
    path.segments.iter().map(|s| s.ident.to_string()).collect()
}

impl<'ast> Visit<'ast> for Paths<'_> {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut pairs = Vec::new();
        flatten(&item.tree, &mut Vec::new(), &mut pairs);
        let line = item.use_token.span.start().line;
        for (_, path) in pairs {
            self.note(path, line);
        }
    }

    /// `pub(in crate::domain)` names who may see an item, not what it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.scope.push(item.ident.to_string());
        syn::visit::visit_item_mod(self, item);
        self.scope.pop();
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let line = path
            .segments
            .first()
            .map_or(0, |s| s.ident.span().start().line);
        if path.segments.len() > 1 {
            self.note(segments(path), line);
        }
        syn::visit::visit_path(self, path);
    }

    /// Macro bodies are tokens to `syn`: `crate::…` and `super::…` paths are picked out of them.
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.scan_tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}

impl Paths<'_> {
    fn scan_tokens(&mut self, stream: proc_macro2::TokenStream) {
        let tokens: Vec<_> = stream.into_iter().collect();
        for (i, token) in tokens.iter().enumerate() {
            if let proc_macro2::TokenTree::Group(group) = token {
                self.scan_tokens(group.stream());
                continue;
            }
            let proc_macro2::TokenTree::Ident(ident) = token else {
                continue;
            };
            if ident != "crate" && ident != "super" {
                continue;
            }
            let mut path = vec![ident.to_string()];
            let mut j = i + 1;
            while let (
                Some(proc_macro2::TokenTree::Punct(a)),
                Some(proc_macro2::TokenTree::Punct(b)),
                Some(proc_macro2::TokenTree::Ident(next)),
            ) = (tokens.get(j), tokens.get(j + 1), tokens.get(j + 2))
            {
                if a.as_char() != ':' || b.as_char() != ':' {
                    break;
                }
                path.push(next.to_string());
                j += 3;
            }
            self.note(path, ident.span().start().line);
        }
    }
}

struct Graph {
    modules: BTreeSet<Module>,
    /// (from, to) → the first place `from` uses `to`.
    edges: BTreeMap<(Module, Module), String>,
    /// Protocol crates named below the protocols, storage crates named by the protocols.
    crate_uses: Vec<String>,
}

fn graph() -> Graph {
    let files = source_files();
    let modules: BTreeSet<Module> = files.iter().map(|f| f.module.clone()).collect();
    let children_of = |module: &Module| -> BTreeSet<String> {
        modules
            .iter()
            .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
            .map(|m| m.last().unwrap().clone())
            .collect()
    };
    // First every file's imports: a path through a module's import (`crate::scim::ScimError`,
    // re-exported from `scim::error`) is a use of where the item is defined.
    let mut imports: HashMap<Module, HashMap<String, Module>> = HashMap::new();
    for file in &files {
        let children = children_of(&file.module);
        let mut imported = Vec::new();
        for item in &file.syntax.items {
            collect_uses(item, &mut imported);
        }
        let probe = Paths {
            scope: file.module.clone(),
            aliases: &HashMap::new(),
            children: &children,
            uses: Vec::new(),
            external: Vec::new(),
        };
        let aliases = imported
            .into_iter()
            .filter(|(alias, _)| !alias.is_empty())
            .filter_map(|(alias, path)| Some((alias, probe.resolve(&path)?)))
            .collect();
        imports.insert(file.module.clone(), aliases);
    }
    let defining_module = |mut path: Module| -> Option<Module> {
        for _ in 0..8 {
            let module = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|m| modules.contains(m))?;
            // A name imported there stands for what it imports, except where the path ends at
            // an imported module: a module is not a value, so the name is an item of `module`
            // (`directory::activity(…)` beside `use entities::activity`).
            let ends_here = path.len() == module.len() + 1;
            let through = path
                .get(module.len())
                .and_then(|name| imports.get(&module)?.get(name))
                .filter(|target| !(ends_here && modules.contains(*target)));
            match through {
                Some(target) if *target != path[..=module.len()] => {
                    let mut followed = target.clone();
                    followed.extend(path[module.len() + 1..].iter().cloned());
                    path = followed;
                }
                _ => return Some(module),
            }
        }
        None
    };
    let mut edges = BTreeMap::new();
    let mut crate_uses = Vec::new();
    for file in &files {
        let children = children_of(&file.module);
        let mut paths = Paths {
            scope: file.module.clone(),
            aliases: &imports[&file.module],
            children: &children,
            uses: Vec::new(),
            external: Vec::new(),
        };
        paths.visit_file(&file.syntax);
        let location = |line: usize| format!("{}:{line}", file.path.display());
        for used in paths.uses {
            let Some(target) = defining_module(used.target) else {
                continue;
            };
            if target != file.module {
                edges
                    .entry((file.module.clone(), target))
                    .or_insert_with(|| location(used.line));
            }
        }
        let layer = layer_of(&file.module);
        let below_protocols = layer.is_some_and(|l| l < layer_index("shared"));
        let protocol = layer == Some(layer_index("protocols"));
        for (krate, line) in paths.external {
            if below_protocols && PROTOCOL_CRATES.contains(&krate.as_str()) {
                crate_uses.push(format!("{} uses {krate}", location(line)));
            }
            if protocol && STORAGE_CRATES.contains(&krate.as_str()) {
                crate_uses.push(format!(
                    "{} uses {krate}: protocols go through the domain",
                    location(line)
                ));
            }
        }
    }
    Graph {
        modules,
        edges,
        crate_uses,
    }
}

fn collect_uses(item: &syn::Item, out: &mut Vec<(String, Vec<String>)>) {
    match item {
        syn::Item::Use(u) => flatten(&u.tree, &mut Vec::new(), out),
        syn::Item::Mod(m) => {
            for item in m.content.iter().flat_map(|(_, items)| items) {
                collect_uses(item, out);
            }
        }
        _ => {}
    }
}

fn layer_index(name: &str) -> usize {
    LAYERS.iter().position(|(n, _)| *n == name).unwrap()
}

fn layer_of(module: &Module) -> Option<usize> {
    let top = module.first().map(String::as_str).unwrap_or("");
    LAYERS
        .iter()
        .position(|(_, members)| members.contains(&top))
}

fn name(module: &Module) -> String {
    if module.is_empty() {
        "lib".to_string()
    } else {
        module.join("::")
    }
}

/// Every cycle's modules (strongly connected components of more than one module).
fn cycles(
    modules: &BTreeSet<Module>,
    edges: &BTreeMap<(Module, Module), String>,
) -> Vec<Vec<Module>> {
    let index: Vec<&Module> = modules.iter().collect();
    let position: HashMap<&Module, usize> =
        index.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let mut next = vec![Vec::new(); index.len()];
    for (from, to) in edges.keys() {
        next[position[from]].push(position[to]);
    }
    // Tarjan's algorithm, iteratively.
    let n = index.len();
    let (mut order, mut low, mut on_stack) = (vec![usize::MAX; n], vec![0; n], vec![false; n]);
    let (mut stack, mut found, mut counter) = (Vec::new(), Vec::new(), 0);
    for root in 0..n {
        if order[root] != usize::MAX {
            continue;
        }
        let mut work = vec![(root, 0usize)];
        while let Some(&mut (v, ref mut child)) = work.last_mut() {
            if *child == 0 && order[v] == usize::MAX {
                order[v] = counter;
                low[v] = counter;
                counter += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = next[v].get(*child) {
                *child += 1;
                if order[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(order[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == order[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(index[w].clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    found.push(component);
                }
            }
        }
    }
    found
}

#[test]
fn modules_form_layers_without_cycles() {
    let graph = graph();
    assert!(
        graph.modules.len() > 50 && graph.edges.len() > 100,
        "the reader found too little: {} modules, {} edges",
        graph.modules.len(),
        graph.edges.len()
    );
    // Spot checks that the reader sees imports, inline paths, `super` and macro bodies.
    for (from, to) in [
        ("scim::users", "domain::users"),
        ("domain::users", "db::statements"),
        ("db::sqlite_writes", "db::statements"),
        ("domain::sign_in::report", "domain::sign_in::requests"),
        ("scim::discovery", "scim::cursor"),
    ] {
        let key = (module(from), module(to));
        assert!(graph.edges.contains_key(&key), "{from} → {to} not seen");
    }

    let mut problems = Vec::new();
    for module in &graph.modules {
        if layer_of(module).is_none() {
            problems.push(format!(
                "{} is in no layer: add its top-level module to LAYERS and to the map in src/lib.rs",
                name(module)
            ));
        }
    }
    for ((from, to), at) in &graph.edges {
        if let (Some(a), Some(b)) = (layer_of(from), layer_of(to))
            && b > a
        {
            problems.push(format!(
                "{} ({}) uses {} ({}), a layer above it, at {at}",
                name(from),
                LAYERS[a].0,
                name(to),
                LAYERS[b].0
            ));
        }
    }
    for cycle in cycles(&graph.modules, &graph.edges) {
        let members: BTreeSet<&Module> = cycle.iter().collect();
        let inside: Vec<String> = graph
            .edges
            .iter()
            .filter(|((a, b), _)| members.contains(a) && members.contains(b))
            .map(|((a, b), at)| format!("  {} → {} at {at}", name(a), name(b)))
            .collect();
        problems.push(format!(
            "an import cycle through {}:\n{}",
            cycle.iter().map(name).collect::<Vec<_>>().join(", "),
            inside.join("\n")
        ));
    }
    for ((from, to), at) in &graph.edges {
        if layer_of(from) == Some(layer_index("protocols"))
            && to
                .first()
                .is_some_and(|t| STORAGE_MODULES.contains(&t.as_str()))
        {
            problems.push(format!(
                "{} uses {} at {at}: protocols reach the database through the domain",
                name(from),
                name(to)
            ));
        }
    }
    problems.extend(graph.crate_uses.iter().cloned());
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

fn module(name: &str) -> Module {
    if name == "lib" {
        return Vec::new();
    }
    name.split("::").map(str::to_string).collect()
}

/// The map at the top of `src/lib.rs` names every module, so it can't silently fall behind.
#[test]
fn the_map_in_lib_rs_names_every_module() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let map: String = lib
        .lines()
        .take_while(|l| l.starts_with("//!") || l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let missing: Vec<String> = graph()
        .modules
        .iter()
        // Entities are one file per table: the map names the folder.
        .filter(|m| !m.is_empty() && m.last().is_some_and(|last| last != "tests"))
        .filter(|m| m.len() == 1 || m[0] != "entities")
        .map(name)
        .filter(|n| !map.contains(&format!("`{n}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "src/lib.rs's map does not name: {}",
        missing.join(", ")
    );
}
