//! The final filesystem of an image, from what each layer changed: a file found in one layer
//! is still there at the end unless a later layer put something else at its path, whited it
//! (or a folder above it) out, or made a folder above it opaque.

/// What one layer does to the layers below it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayerChanges {
    /// Paths the layer deletes (`.wh.<name>` entries), with everything under them.
    pub whiteouts: Vec<String>,
    /// Folders whose lower-layer contents the layer hides (`.wh..wh..opq` entries).
    pub opaque: Vec<String>,
    /// Wanted paths the layer has an entry at (see [`crate::Visitor::wants`]).
    pub present: Vec<String>,
}

/// The layers of one image, bottom first.
#[derive(Debug, Clone, Copy)]
pub struct FinalView<'a> {
    layers: &'a [&'a LayerChanges],
}

fn is_under(path: &str, folder: &str) -> bool {
    folder.is_empty()
        || path
            .strip_prefix(folder)
            .is_some_and(|rest| rest.starts_with('/'))
}

impl<'a> FinalView<'a> {
    pub fn new(layers: &'a [&'a LayerChanges]) -> Self {
        FinalView { layers }
    }

    /// Whether the file at `path`, as layer `layer` (0 = bottom) has it, is in the final
    /// filesystem.
    pub fn survives(&self, layer: usize, path: &str) -> bool {
        self.layers.iter().skip(layer + 1).all(|above| {
            !above.present.iter().any(|p| p == path)
                && !above
                    .whiteouts
                    .iter()
                    .any(|w| w == path || is_under(path, w))
                && !above.opaque.iter().any(|folder| is_under(path, folder))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(whiteouts: &[&str], opaque: &[&str], present: &[&str]) -> LayerChanges {
        let own = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        LayerChanges {
            whiteouts: own(whiteouts),
            opaque: own(opaque),
            present: own(present),
        }
    }

    #[test]
    fn later_layers_replace_delete_and_hide() {
        let base = changes(
            &[],
            &[],
            &[
                "var/lib/dpkg/status",
                "app/a/package.json",
                "opt/x/METADATA",
            ],
        );
        let replaced = changes(&[], &[], &["var/lib/dpkg/status"]);
        let deleted = changes(&["app/a"], &[], &[]);
        let hidden = changes(&[], &["opt"], &[]);
        let layers = [&base, &replaced, &deleted, &hidden];
        let view = FinalView::new(&layers);
        assert!(
            !view.survives(0, "var/lib/dpkg/status"),
            "replaced by layer 1"
        );
        assert!(view.survives(1, "var/lib/dpkg/status"));
        assert!(
            !view.survives(0, "app/a/package.json"),
            "its folder was whited out"
        );
        assert!(
            !view.survives(0, "opt/x/METADATA"),
            "an opaque folder hides it"
        );
        // A whiteout names one entry: a sibling with a longer name stays.
        let sibling = changes(&[], &[], &["app/ab/package.json"]);
        let layers = [&sibling, &deleted];
        assert!(FinalView::new(&layers).survives(0, "app/ab/package.json"));
        // A layer's own opaque marker hides only what is below it.
        let own = changes(&[], &["opt"], &["opt/x/METADATA"]);
        let layers = [&own];
        assert!(FinalView::new(&layers).survives(0, "opt/x/METADATA"));
    }
}
