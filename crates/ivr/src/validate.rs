//! Whole-tree checks once every node resolves: loops a silent caller would never leave,
//! unreachable nodes, unused schedules.

use std::collections::BTreeSet;

use crate::config::{IdentifyMethod, IvrConfig};
use crate::problem::{Problem, Severity};
use crate::tree::{Node, NodeId, Tree};

/// The edges out of `node`, each marked `true` when taking it needs the caller to type.
pub(crate) fn edges(node: &Node) -> Vec<(NodeId, bool)> {
    match node {
        Node::Announcement { next, .. } => vec![(*next, false)],
        Node::Menu {
            options,
            on_failure,
            ..
        } => options
            .iter()
            .map(|(_, n)| (*n, true))
            .chain([(*on_failure, false)])
            .collect(),
        Node::Collect { next, .. } => vec![(*next, false)],
        Node::Identify(i) => vec![
            (i.on_success, i.method == IdentifyMethod::Pin),
            (i.on_failure, false),
        ],
        Node::Schedule { open, closed, .. } => vec![(*open, false), (*closed, false)],
        Node::Route { .. } | Node::Voicemail { .. } | Node::Hangup { .. } => Vec::new(),
    }
}

/// Adds the graph problems of `tree` to `problems`.
pub(crate) fn graph(tree: &Tree, cfg: &IvrConfig, problems: &mut Vec<Problem>) {
    silent_cycles(tree, problems);
    let n = tree.nodes.len();
    let mut reached = vec![false; n];
    let mut stack: Vec<NodeId> = tree.entry_nodes().collect();
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut reached[id], true) {
            continue;
        }
        stack.extend(edges(&tree.nodes[id]).into_iter().map(|(t, _)| t));
    }
    for (id, seen) in reached.iter().enumerate() {
        if !seen {
            problems.push(Problem {
                path: format!("ivr.nodes.{}", tree.names[id]),
                message: "unreachable: no entry and no other node leads here".into(),
                severity: Severity::Warning,
            });
        }
    }
    let used: BTreeSet<usize> = tree
        .nodes
        .iter()
        .filter_map(|n| match n {
            Node::Schedule { schedule, .. } => Some(*schedule),
            _ => None,
        })
        .collect();
    for (id, s) in tree.schedules.iter().enumerate() {
        if !used.contains(&id) && cfg.schedules.contains_key(&s.name) {
            problems.push(Problem {
                path: format!("ivr.schedules.{}", s.name),
                message: "unused: no schedule node refers to it".into(),
                severity: Severity::Warning,
            });
        }
    }
}

/// Cycles made only of edges taken without caller input: a silent caller would loop forever
/// (R-IVR-3 wants such a call ended politely or routed).
fn silent_cycles(tree: &Tree, problems: &mut Vec<Problem>) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let n = tree.nodes.len();
    let mut mark = vec![Mark::New; n];
    let mut seen_cycles: BTreeSet<Vec<NodeId>> = BTreeSet::new();
    for root in 0..n {
        if mark[root] != Mark::New {
            continue;
        }
        // Iterative DFS: (node, next edge index).
        let mut path: Vec<(NodeId, usize)> = vec![(root, 0)];
        mark[root] = Mark::OnPath;
        while let Some(&mut (node, ref mut i)) = path.last_mut() {
            let silent: Vec<NodeId> = edges(&tree.nodes[node])
                .into_iter()
                .filter(|(_, input)| !input)
                .map(|(t, _)| t)
                .collect();
            if *i >= silent.len() {
                mark[node] = Mark::Done;
                path.pop();
                continue;
            }
            let next = silent[*i];
            *i += 1;
            match mark[next] {
                Mark::New => {
                    mark[next] = Mark::OnPath;
                    path.push((next, 0));
                }
                Mark::OnPath => {
                    let start = path.iter().position(|(id, _)| *id == next).unwrap_or(0);
                    let cycle: Vec<NodeId> = path[start..].iter().map(|(id, _)| *id).collect();
                    let mut key = cycle.clone();
                    key.sort_unstable();
                    if seen_cycles.insert(key) {
                        let names: Vec<&str> = cycle
                            .iter()
                            .chain([&next])
                            .map(|id| tree.names[*id].as_str())
                            .collect();
                        problems.push(Problem {
                            path: format!("ivr.nodes.{}", tree.names[next]),
                            message: format!(
                                "cycle without caller input: {}; a silent caller would never \
                                 leave it (end it with a hangup or route node)",
                                names.join(" → ")
                            ),
                            severity: Severity::Error,
                        });
                    }
                }
                Mark::Done => {}
            }
        }
    }
}
