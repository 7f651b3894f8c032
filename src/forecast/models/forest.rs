//! A compact, read-only copy of boosted trees grown by forust. forust keeps ~80 bytes of
//! training statistics per node (gains, hessians, depths); a live series holds five
//! horizons of up to 300 trees, which would be ~7 MiB. Laid out in pre-order (the left
//! child is always the next node) with only what prediction reads, a node is 16 bytes
//! and the same five horizons fit the 2 MiB budget. Predictions are identical to
//! forust's own (same comparisons on the same f64 split values).

use forust_ml::tree::Tree;

#[derive(Debug, Clone, Copy)]
struct Node {
    /// The split value, or the leaf's weight for a leaf.
    value: f64,
    /// Index of the right child (the left one is the next node).
    right: u32,
    feature: u16,
    flags: u16,
}

const LEAF: u16 = 1;
/// A missing feature value goes left (else right).
const MISSING_LEFT: u16 = 2;

#[derive(Debug, Clone, Default)]
pub struct Forest {
    base: f64,
    nodes: Vec<Node>,
    /// Where each tree starts in `nodes`.
    roots: Vec<u32>,
}

impl Forest {
    /// The copy of trees grown by forust whose predictions add up from `base`; `None`
    /// for a tree shape it does not know (a third, missing-only branch, which vigil never
    /// asks forust to grow).
    pub fn from_trees(base: f64, trees: &[Tree]) -> Option<Forest> {
        let mut f = Forest {
            base,
            nodes: Vec::new(),
            roots: Vec::new(),
        };
        // No early stopping is asked for: every tree predicts.
        for t in trees {
            if t.nodes.is_empty() {
                continue;
            }
            f.roots.push(u32::try_from(f.nodes.len()).ok()?);
            f.copy(t, 0)?;
        }
        f.nodes.shrink_to_fit();
        f.roots.shrink_to_fit();
        Some(f)
    }

    /// Copies the subtree at forust node `i` in pre-order; returns its first index.
    fn copy(&mut self, t: &Tree, i: usize) -> Option<usize> {
        let n = t.nodes.get(i)?;
        let at = self.nodes.len();
        if n.is_leaf {
            self.nodes.push(Node {
                value: n.weight_value as f64,
                right: 0,
                feature: 0,
                flags: LEAF,
            });
            return Some(at);
        }
        let missing_left = if n.missing_node == n.left_child {
            MISSING_LEFT
        } else if n.missing_node == n.right_child {
            0
        } else {
            return None;
        };
        self.nodes.push(Node {
            value: n.split_value,
            right: 0,
            feature: u16::try_from(n.split_feature).ok()?,
            flags: missing_left,
        });
        self.copy(t, n.left_child)?;
        let right = self.copy(t, n.right_child)?;
        self.nodes[at].right = u32::try_from(right).ok()?;
        Some(at)
    }

    /// The prediction for one row of features (NaN is missing, as forust's default).
    pub fn predict(&self, row: &[f64]) -> f64 {
        let mut sum = self.base;
        for &r in &self.roots {
            let mut i = r as usize;
            loop {
                let n = self.nodes[i];
                if n.flags & LEAF != 0 {
                    sum += n.value;
                    break;
                }
                let v = row.get(n.feature as usize).copied().unwrap_or(f64::NAN);
                let left = if v.is_nan() {
                    n.flags & MISSING_LEFT != 0
                } else {
                    v < n.value
                };
                i = if left { i + 1 } else { n.right as usize };
            }
        }
        sum
    }

    /// Bytes held, for the memory budget.
    pub fn bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>() + self.roots.capacity() * 4
    }
}
