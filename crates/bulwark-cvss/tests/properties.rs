//! Every vector the grammar allows parses, scores within [0, 10] with the rating its score
//! implies, and survives `to_string` → `parse` unchanged; arbitrary strings never panic.

use bulwark_cvss::{Cvss, Severity};
use proptest::prelude::*;
use proptest::sample::select;

/// `NAME:VALUE` with a value drawn from the metric's allowed values.
fn metric(name: &'static str, values: &'static [&'static str]) -> BoxedStrategy<String> {
    select(values)
        .prop_map(move |value| format!("{name}:{value}"))
        .boxed()
}

/// An optional metric: absent, or present with one of its values.
fn optional(name: &'static str, values: &'static [&'static str]) -> BoxedStrategy<Option<String>> {
    proptest::option::of(metric(name, values)).boxed()
}

fn join(prefix: &str, mandatory: Vec<String>, optional: Vec<Option<String>>) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !prefix.is_empty() {
        parts.push(prefix.to_owned());
    }
    parts.extend(mandatory);
    parts.extend(optional.into_iter().flatten());
    parts.join("/")
}

fn v2_vector() -> impl Strategy<Value = String> {
    let base = vec![
        metric("AV", &["L", "A", "N"]),
        metric("AC", &["H", "M", "L"]),
        metric("Au", &["M", "S", "N"]),
        metric("C", &["N", "P", "C"]),
        metric("I", &["N", "P", "C"]),
        metric("A", &["N", "P", "C"]),
    ];
    let extra = vec![
        optional("E", &["U", "POC", "F", "H", "ND"]),
        optional("RL", &["OF", "TF", "W", "U", "ND"]),
        optional("RC", &["UC", "UR", "C", "ND"]),
    ];
    (base, extra).prop_map(|(base, extra)| join("", base, extra))
}

fn v3_vector() -> impl Strategy<Value = String> {
    let base = vec![
        metric("AV", &["N", "A", "L", "P"]),
        metric("AC", &["L", "H"]),
        metric("PR", &["N", "L", "H"]),
        metric("UI", &["N", "R"]),
        metric("S", &["U", "C"]),
        metric("C", &["H", "L", "N"]),
        metric("I", &["H", "L", "N"]),
        metric("A", &["H", "L", "N"]),
    ];
    let extra = vec![
        optional("E", &["X", "H", "F", "P", "U"]),
        optional("RL", &["X", "U", "W", "T", "O"]),
        optional("RC", &["X", "C", "R", "U"]),
        optional("CR", &["X", "H", "M", "L"]),
        optional("MAV", &["X", "N", "A", "L", "P"]),
        optional("MS", &["X", "U", "C"]),
    ];
    (select(&["CVSS:3.0", "CVSS:3.1"][..]), base, extra)
        .prop_map(|(prefix, base, extra)| join(prefix, base, extra))
}

fn v4_vector() -> impl Strategy<Value = String> {
    let base = vec![
        metric("AV", &["N", "A", "L", "P"]),
        metric("AC", &["L", "H"]),
        metric("AT", &["N", "P"]),
        metric("PR", &["N", "L", "H"]),
        metric("UI", &["N", "P", "A"]),
        metric("VC", &["H", "L", "N"]),
        metric("VI", &["H", "L", "N"]),
        metric("VA", &["H", "L", "N"]),
        metric("SC", &["H", "L", "N"]),
        metric("SI", &["H", "L", "N"]),
        metric("SA", &["H", "L", "N"]),
    ];
    let extra = vec![
        optional("E", &["X", "A", "P", "U"]),
        optional("CR", &["X", "H", "M", "L"]),
        optional("MAV", &["X", "N", "A", "L", "P"]),
        optional("MSI", &["X", "N", "L", "H", "S"]),
        optional("S", &["X", "N", "P"]),
        optional("U", &["X", "Clear", "Green", "Amber", "Red"]),
    ];
    (base, extra).prop_map(|(base, extra)| join("CVSS:4.0", base, extra))
}

fn any_valid_vector() -> impl Strategy<Value = String> {
    prop_oneof![v2_vector(), v3_vector(), v4_vector()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn valid_vectors_parse_and_score_in_range(vector in any_valid_vector()) {
        let cvss = Cvss::parse(&vector).map_err(|e| TestCaseError::fail(format!("{vector}: {e}")))?;
        let score = cvss.base_score();
        prop_assert!((0.0..=10.0).contains(&score), "{vector}: {score}");
        prop_assert_eq!(cvss.severity(), Severity::from_score(cvss.version(), score));
    }

    #[test]
    fn display_round_trips(vector in any_valid_vector()) {
        let cvss = Cvss::parse(&vector).map_err(|e| TestCaseError::fail(format!("{vector}: {e}")))?;
        let written = cvss.to_string();
        let again = Cvss::parse(&written).map_err(|e| TestCaseError::fail(format!("{written}: {e}")))?;
        prop_assert_eq!(&again, &cvss);
        prop_assert_eq!(again.to_string(), written);
    }

    #[test]
    fn arbitrary_input_never_panics(input in ".{0,80}") {
        let _ = Cvss::parse(&input);
    }

    #[test]
    fn near_miss_input_never_panics(
        vector in any_valid_vector(),
        cut in 0usize..120,
        junk in select(&["", "/", ":", "//", "X:Y", "AV:N", "CVSS:3.1/"][..]),
    ) {
        let cut = cut.min(vector.len());
        let mangled = format!("{}{junk}{}", &vector[..cut], &vector[cut..]);
        if let Ok(cvss) = Cvss::parse(&mangled) {
            prop_assert!((0.0..=10.0).contains(&cvss.base_score()));
        }
    }
}
