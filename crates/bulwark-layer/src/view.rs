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
    /// Every path the layer has an entry at.
    pub present: PathSet,
}

/// A set of paths kept as 64-bit hashes (XXH3, a specified and stable function, since sets
/// are stored): 8 bytes a path, so a layer of a million files costs 8 MB while it is read
/// and stored, not the paths' text. Two paths sharing a hash (odds about 2⁻⁶⁴ per pair)
/// would make a file look replaced. Serialised as base64 of the sorted little-endian
/// hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathSet(Vec<u64>);

impl PathSet {
    pub fn hash(path: &str) -> u64 {
        xxhash_rust::xxh3::xxh3_64(path.as_bytes())
    }

    pub fn from_hashes(mut hashes: Vec<u64>) -> Self {
        hashes.sort_unstable();
        hashes.dedup();
        PathSet(hashes)
    }

    pub fn from_paths<'a>(paths: impl IntoIterator<Item = &'a str>) -> Self {
        Self::from_hashes(paths.into_iter().map(Self::hash).collect())
    }

    pub fn contains(&self, path: &str) -> bool {
        self.0.binary_search(&Self::hash(path)).is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl serde::Serialize for PathSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        let bytes: Vec<u8> = self.0.iter().flat_map(|h| h.to_le_bytes()).collect();
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}

impl<'de> serde::Deserialize<'de> for PathSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use base64::Engine;
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)?;
        if bytes.len() % 8 != 0 {
            return Err(serde::de::Error::custom(
                "a path set is a multiple of 8 bytes",
            ));
        }
        Ok(PathSet::from_hashes(
            bytes
                .chunks_exact(8)
                .map(|chunk| {
                    let mut word = [0u8; 8];
                    word.copy_from_slice(chunk);
                    u64::from_le_bytes(word)
                })
                .collect(),
        ))
    }
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
            !above.present.contains(path)
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
            present: PathSet::from_paths(present.iter().copied()),
        }
    }

    #[test]
    fn path_sets_survive_serialisation() {
        let set = PathSet::from_paths(["a/b", "c", "a/b"]);
        assert_eq!(set.len(), 2);
        let json = serde_json::to_string(&set).unwrap();
        let back: PathSet = serde_json::from_str(&json).unwrap();
        assert_eq!(back, set);
        assert!(back.contains("c") && !back.contains("d"));
        assert!(serde_json::from_str::<PathSet>("\"AAA=\"").is_err());
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
