//! Maven ordering against Maven itself: every pair of `data/maven-comparable-version.txt`,
//! answered by the real `ComparableVersion` of Maven 3.8.7 (the file's header says how it
//! was made; `scripts/maven-order/` makes it again), must come out the same here, both ways
//! round. The file is the project's own, so this always runs.

use std::cmp::Ordering;

use bulwark_version::{Ecosystem, compare};

#[test]
fn every_pair_matches_maven() {
    let corpus = include_str!("data/maven-comparable-version.txt");
    let mut section = String::new();
    let mut checked = 0;
    let mut disagreements = Vec::new();
    for (number, line) in corpus.lines().enumerate() {
        if let Some(name) = line.strip_prefix("# == ") {
            section = name.trim_end_matches(" ==").to_owned();
            continue;
        }
        // Java's Character.isDigit takes other scripts' digits; Bulwark takes ASCII ones.
        if line.starts_with('#') || line.is_empty() || section == "non-ascii" {
            continue;
        }
        let mut fields = line.split('\t');
        let (Some(a), Some(op), Some(b), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            panic!("line {}: not A<TAB>OP<TAB>B: {line:?}", number + 1);
        };
        let expected = match op {
            "<" => Ordering::Less,
            "=" => Ordering::Equal,
            ">" => Ordering::Greater,
            _ => panic!("line {}: unknown operator {op:?}", number + 1),
        };
        let forward = compare(&Ecosystem::Maven, a, b).unwrap();
        let backward = compare(&Ecosystem::Maven, b, a).unwrap();
        if forward != expected || backward != expected.reverse() {
            disagreements.push(format!(
                "line {} [{section}]: {a:?} {op} {b:?}, Bulwark says {forward:?} / reversed {backward:?}",
                number + 1
            ));
        }
        checked += 1;
    }
    assert!(checked > 10_000, "{checked} pairs");
    assert!(
        disagreements.is_empty(),
        "{} of {checked} pairs disagree with Maven:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
