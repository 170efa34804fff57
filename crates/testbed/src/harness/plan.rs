//! The order tests run in: grouped by the set of resources they use, groups ordered so
//! that consecutive groups share as much as possible.
//!
//! With resources released as soon as the next tests no longer need them, a run makes
//! resource `r` once per maximal stretch of consecutive groups that use it. Going from
//! group `A` to group `B` makes `B \ A`; starting from and returning to "nothing made",
//! the total makes are half the length of the cycle `∅ → groups → ∅` under the
//! symmetric-difference metric `|A Δ B|`. Ordering groups is therefore a metric travelling
//! salesman problem over the distinct resource sets.
//!
//! testresources' OptimisingTestSuite uses the spanning-tree construction, a
//! 2-approximation. Here: up to [`EXACT_LIMIT`] groups (typical suites have a handful of
//! resource sets) the optimum is computed exactly (Held-Karp dynamic programming); beyond
//! that, the spanning-tree tour and a nearest-neighbour tour are both improved by 2-opt and
//! the cheaper is kept, so the result is never worse than the 2-approximation's bound.

use std::collections::BTreeSet;

/// Exact ordering up to this many distinct resource sets: 2^16 * 16^2 steps at most.
pub(crate) const EXACT_LIMIT: usize = 16;

/// A set of resources, as indices into the run's resource list.
pub(crate) type ResourceSet = BTreeSet<usize>;

/// The positions of `sets` (one per test, in listed order) in the order to run them:
/// tests with equal sets together, in listed order within a group; tests that use no
/// resource last, as testresources does, so they fill the gaps while the last groups end.
pub(crate) fn order(sets: &[ResourceSet], weights: &[u64]) -> Vec<usize> {
    let mut groups: Vec<(ResourceSet, Vec<usize>)> = Vec::new();
    let mut free = Vec::new();
    for (position, set) in sets.iter().enumerate() {
        if set.is_empty() {
            free.push(position);
            continue;
        }
        match groups.iter_mut().find(|(known, _)| known == set) {
            Some((_, members)) => members.push(position),
            None => groups.push((set.clone(), vec![position])),
        }
    }
    let group_sets: Vec<ResourceSet> = groups.iter().map(|(set, _)| set.clone()).collect();
    let tour = order_groups(&group_sets, weights);
    let mut ordered: Vec<usize> = tour
        .into_iter()
        .flat_map(|group| groups[group].1.iter().copied())
        .collect();
    ordered.extend(free);
    ordered
}

/// The cost of making what `to` needs and `from` lacks.
fn makes(from: &ResourceSet, to: &ResourceSet, weights: &[u64]) -> u64 {
    to.difference(from)
        .map(|&resource| weight(weights, resource))
        .sum()
}

fn weight(weights: &[u64], resource: usize) -> u64 {
    weights.get(resource).copied().unwrap_or(1)
}

/// The total make cost of running groups in `tour` order from nothing made.
#[cfg(test)]
pub(crate) fn tour_cost(sets: &[ResourceSet], tour: &[usize], weights: &[u64]) -> u64 {
    let empty = ResourceSet::new();
    let mut previous = &empty;
    let mut cost = 0;
    for &group in tour {
        cost += makes(previous, &sets[group], weights);
        previous = &sets[group];
    }
    cost
}

/// The order of groups, as indices into `sets`.
pub(crate) fn order_groups(sets: &[ResourceSet], weights: &[u64]) -> Vec<usize> {
    if sets.len() <= 2 {
        return (0..sets.len()).collect();
    }
    let distance = Distances::new(sets, weights);
    if sets.len() <= EXACT_LIMIT {
        return held_karp(&distance);
    }
    let candidates = [
        spanning_tree_tour(&distance),
        nearest_neighbour_tour(&distance),
    ];
    candidates
        .into_iter()
        .map(|tour| two_opt(&distance, tour))
        .min_by_key(|tour| distance.cycle(tour))
        .expect("two candidates")
}

/// Symmetric-difference distances between the groups and the empty set, node 0 being
/// the empty set and node `g + 1` group `g`.
struct Distances {
    nodes: usize,
    table: Vec<u64>,
}

impl Distances {
    fn new(sets: &[ResourceSet], weights: &[u64]) -> Self {
        let empty = ResourceSet::new();
        let node_set = |node: usize| if node == 0 { &empty } else { &sets[node - 1] };
        let nodes = sets.len() + 1;
        let mut table = vec![0; nodes * nodes];
        for a in 0..nodes {
            for b in 0..nodes {
                let (from, to) = (node_set(a), node_set(b));
                table[a * nodes + b] = makes(from, to, weights) + makes(to, from, weights);
            }
        }
        Distances { nodes, table }
    }

    fn get(&self, a: usize, b: usize) -> u64 {
        self.table[a * self.nodes + b]
    }

    /// The length of the cycle from the empty set through `tour` (group nodes) and back.
    fn cycle(&self, tour: &[usize]) -> u64 {
        let mut previous = 0;
        let mut length = 0;
        for &node in tour {
            length += self.get(previous, node + 1);
            previous = node + 1;
        }
        length + self.get(previous, 0)
    }
}

/// The optimal cycle through every group, by dynamic programming over subsets.
fn held_karp(distance: &Distances) -> Vec<usize> {
    let groups = distance.nodes - 1;
    let full = 1usize << groups;
    // best[subset][last]: shortest path from the empty set through `subset`, ending at
    // group `last` (which is in `subset`).
    let mut best = vec![u64::MAX; full * groups];
    let mut parent = vec![usize::MAX; full * groups];
    for group in 0..groups {
        best[(1 << group) * groups + group] = distance.get(0, group + 1);
    }
    for subset in 1..full {
        for last in 0..groups {
            let here = best[subset * groups + last];
            if subset & (1 << last) == 0 || here == u64::MAX {
                continue;
            }
            for next in 0..groups {
                if subset & (1 << next) != 0 {
                    continue;
                }
                let grown = subset | (1 << next);
                let candidate = here + distance.get(last + 1, next + 1);
                if candidate < best[grown * groups + next] {
                    best[grown * groups + next] = candidate;
                    parent[grown * groups + next] = last;
                }
            }
        }
    }
    let all = full - 1;
    let mut last = (0..groups)
        .min_by_key(|&last| best[all * groups + last].saturating_add(distance.get(last + 1, 0)))
        .expect("at least one group");
    let mut subset = all;
    let mut tour = Vec::with_capacity(groups);
    loop {
        tour.push(last);
        let previous = parent[subset * groups + last];
        subset &= !(1 << last);
        if previous == usize::MAX {
            break;
        }
        last = previous;
    }
    tour.reverse();
    tour
}

/// testresources' construction: a preorder walk of a minimum spanning tree rooted at the
/// empty set.
fn spanning_tree_tour(distance: &Distances) -> Vec<usize> {
    let nodes = distance.nodes;
    let mut in_tree = vec![false; nodes];
    let mut link = vec![(u64::MAX, 0usize); nodes];
    let mut children = vec![Vec::new(); nodes];
    link[0] = (0, 0);
    for _ in 0..nodes {
        let node = (0..nodes)
            .filter(|&node| !in_tree[node])
            .min_by_key(|&node| link[node].0)
            .expect("a node left");
        in_tree[node] = true;
        if node != 0 {
            children[link[node].1].push(node);
        }
        for other in 0..nodes {
            if !in_tree[other] && distance.get(node, other) < link[other].0 {
                link[other] = (distance.get(node, other), node);
            }
        }
    }
    let mut tour = Vec::with_capacity(nodes - 1);
    let mut stack = vec![0];
    while let Some(node) = stack.pop() {
        if node != 0 {
            tour.push(node - 1);
        }
        stack.extend(children[node].iter().rev());
    }
    tour
}

/// From the empty set, always to the nearest group not yet visited.
fn nearest_neighbour_tour(distance: &Distances) -> Vec<usize> {
    let groups = distance.nodes - 1;
    let mut visited = vec![false; groups];
    let mut tour = Vec::with_capacity(groups);
    let mut at = 0;
    for _ in 0..groups {
        let next = (0..groups)
            .filter(|&group| !visited[group])
            .min_by_key(|&group| distance.get(at, group + 1))
            .expect("a group left");
        visited[next] = true;
        tour.push(next);
        at = next + 1;
    }
    tour
}

/// Reverses stretches of the tour while that shortens the cycle.
fn two_opt(distance: &Distances, mut tour: Vec<usize>) -> Vec<usize> {
    let mut best = distance.cycle(&tour);
    let mut improved = true;
    // Each pass is O(n^3) here; a bounded number of passes keeps huge suites fast.
    let mut passes = 0;
    while improved && passes < 50 {
        improved = false;
        passes += 1;
        for start in 0..tour.len() {
            for end in start + 1..tour.len() {
                tour[start..=end].reverse();
                let length = distance.cycle(&tour);
                if length < best {
                    best = length;
                    improved = true;
                } else {
                    tour[start..=end].reverse();
                }
            }
        }
    }
    tour
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[usize]) -> ResourceSet {
        items.iter().copied().collect()
    }

    /// Every order of `groups`, for a brute-force optimum.
    fn permutations(items: Vec<usize>) -> Vec<Vec<usize>> {
        if items.len() <= 1 {
            return vec![items];
        }
        let mut all = Vec::new();
        for index in 0..items.len() {
            let mut rest = items.clone();
            let first = rest.remove(index);
            for mut tail in permutations(rest) {
                tail.insert(0, first);
                all.push(tail);
            }
        }
        all
    }

    #[test]
    fn groups_equal_sets_and_puts_resource_free_tests_last() {
        let sets = [set(&[0]), set(&[]), set(&[1]), set(&[0]), set(&[1])];
        let order = order(&sets, &[]);
        assert_eq!(order.len(), 5);
        assert_eq!(*order.last().unwrap(), 1);
        let zero = order.iter().position(|&p| p == 0).unwrap();
        let three = order.iter().position(|&p| p == 3).unwrap();
        assert_eq!(three, zero + 1, "same set, consecutive: {order:?}");
    }

    #[test]
    fn the_exact_order_matches_brute_force() {
        // Sets over five resources where a greedy choice from the empty set goes wrong.
        let sets = [
            set(&[0, 1]),
            set(&[1, 2]),
            set(&[2, 3]),
            set(&[3, 4]),
            set(&[0, 4]),
            set(&[0]),
            set(&[2, 4]),
        ];
        let weights = [5, 1, 3, 1, 2];
        let brute = permutations((0..sets.len()).collect())
            .into_iter()
            .map(|tour| tour_cost(&sets, &tour, &weights))
            .min()
            .unwrap();
        let planned = order_groups(&sets, &weights);
        assert_eq!(tour_cost(&sets, &planned, &weights), brute);
    }

    #[test]
    fn large_suites_get_an_order_no_worse_than_the_spanning_tree_tour() {
        // 24 sets: past the exact limit.
        let sets: Vec<ResourceSet> = (0..24)
            .map(|n| set(&[n % 6, (n * 7) % 11 + 6, (n / 3) % 4 + 17]))
            .collect();
        let distance = Distances::new(&sets, &[]);
        let tree = spanning_tree_tour(&distance);
        let planned = order_groups(&sets, &[]);
        let mut seen = planned.clone();
        seen.sort();
        assert_eq!(seen, (0..24).collect::<Vec<_>>(), "a permutation");
        assert!(distance.cycle(&planned) <= distance.cycle(&tree));
    }

    #[test]
    fn makes_count_what_the_next_set_lacks() {
        let sets = [set(&[0, 1]), set(&[1]), set(&[0])];
        assert_eq!(tour_cost(&sets, &[0, 1, 2], &[]), 3, "0 is made twice");
        assert_eq!(tour_cost(&sets, &[1, 0, 2], &[]), 2);
    }
}
