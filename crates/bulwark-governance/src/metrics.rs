//! Policy refusals, for `/metrics`: counted where they are decided, by the rules that
//! fired, so an operator sees which rule blocks what.

use bulwark_policy::Decision;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Denial {
    /// `pull` or `promote`.
    action: &'static str,
    rule: &'static str,
}

/// Cheap to clone (every clone counts into the same values).
#[derive(Clone, Debug, Default)]
pub struct PolicyMetrics {
    denials: Family<Denial, Counter>,
}

impl PolicyMetrics {
    /// Counts one refusal of `action` under each rule `decision` names (a refusal by two
    /// rules counts under both).
    pub(crate) fn denied(&self, action: &'static str, decision: &Decision) {
        let mut rules: Vec<&'static str> = decision
            .violations
            .iter()
            .map(|v| v.rule.as_str())
            .collect();
        rules.sort_unstable();
        rules.dedup();
        for rule in rules {
            self.denials.get_or_create(&Denial { action, rule }).inc();
        }
    }

    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "bulwark_policy_denials",
            "Pulls and promotions refused by policy, by the rule that fired",
            self.denials.clone(),
        );
    }
}
