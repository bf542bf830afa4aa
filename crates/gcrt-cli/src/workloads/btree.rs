//! A B-tree built from `gcrt::objects` instances: nodes of up to 16 keys with `keys` and
//! `children` lists and a `parent` attribute, so every node is in a cycle with its parent.
//! Rebuilding a node above the leaves, with new leaves, leaves the old ones as garbage for
//! the collector. The `btree` workload runs it, and `benches/objects.rs` includes this file.

use gcrt::objects::{Error, Value};

/// Keys per node, children per internal node.
pub(crate) const ORDER: usize = 16;

/// Objects each node is made of: the instance and its two lists.
pub(crate) const OBJECTS_PER_NODE: usize = 3;

fn node(class: &Value, keys: Vec<Value>, parent: &Value) -> Result<Value, Error> {
    let node = class.instantiate()?;
    node.set_attr("keys", Value::list(keys))?;
    node.set_attr("children", Value::list([]))?;
    node.set_attr("parent", parent.clone())?;
    Ok(node)
}

/// One level of internal nodes over `children`, `ORDER` children each.
fn level_over(class: &Value, children: &[Value]) -> Result<Vec<Value>, Error> {
    children
        .chunks(ORDER)
        .map(|chunk| {
            let first_keys = chunk
                .iter()
                .map(|c| c.get_attr("keys")?.get_item(&Value::from(0)))
                .collect::<Result<_, _>>()?;
            let node = node(class, first_keys, &Value::none())?;
            let list = node.get_attr("children")?;
            for c in chunk {
                c.set_attr("parent", node.clone())?;
                list.append(c.clone())?;
            }
            Ok(node)
        })
        .collect()
}

/// A B-tree of the keys `0..keys`, built bottom-up; returns its root and the nodes just
/// above the leaves.
pub(crate) fn build(class: &Value, keys: i64) -> Result<(Value, Vec<Value>), Error> {
    let leaves = (0..keys)
        .collect::<Vec<_>>()
        .chunks(ORDER)
        .map(|c| {
            node(
                class,
                c.iter().map(|&k| Value::from(k)).collect(),
                &Value::none(),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let lowest = level_over(class, &leaves)?;
    let mut level = lowest.clone();
    while level.len() > 1 {
        level = level_over(class, &level)?;
    }
    Ok((level.pop().unwrap_or_default(), lowest))
}

/// Rebuilds every fifth node above the leaves (which ones depends on `round`), with new
/// leaves holding the same keys: the old node and its leaves become garbage, in cycles
/// through their `parent` attributes. Returns how many objects that is.
pub(crate) fn rebuild_fifth(
    class: &Value,
    lowest: &mut [Value],
    round: u64,
) -> Result<usize, Error> {
    let mut garbage = 0;
    for (i, slot) in lowest.iter_mut().enumerate() {
        if !(i as u64 + round).is_multiple_of(5) {
            continue;
        }
        let parent = slot.get_attr("parent")?;
        let fresh = node(class, slot.get_attr("keys")?.to_vec()?, &parent)?;
        let children = fresh.get_attr("children")?;
        for leaf in slot.get_attr("children")?.to_vec()? {
            children.append(node(class, leaf.get_attr("keys")?.to_vec()?, &fresh)?)?;
            garbage += OBJECTS_PER_NODE;
        }
        garbage += OBJECTS_PER_NODE;
        if let Value::Instance(_) = parent {
            let siblings = parent.get_attr("children")?;
            for j in 0..siblings.len()? as i64 {
                if siblings.get_item(&Value::from(j))?.is(slot) {
                    siblings.set_item(Value::from(j), fresh.clone())?;
                }
            }
        }
        *slot = fresh;
    }
    Ok(garbage)
}
