//! Receipts made by hand for the unit tests of the schedules.

use supervm_vm::state::{KeyRead, RangeRead};
use supervm_vm::{Outcome, ReadSet, Receipt, WriteSet};

/// A successful receipt that read `keys` (with the values seen), took the iteration
/// steps `ranges` and wrote `writes`.
pub(crate) fn receipt(
    keys: &[(&[u8], Option<&[u8]>)],
    ranges: Vec<RangeRead>,
    writes: &[&[u8]],
) -> Receipt {
    Receipt {
        outcome: Outcome::Success,
        gas_used: 0,
        return_data: vec![],
        events: vec![],
        logs: vec![],
        contract: None,
        code_hash: None,
        executions: 1,
        read_set: ReadSet {
            keys: keys
                .iter()
                .map(|(k, v)| KeyRead {
                    key: k.to_vec(),
                    value: v.map(<[u8]>::to_vec),
                })
                .collect(),
            ranges,
            deltas: vec![],
            codes: vec![],
            digests: vec![],
        },
        write_set: writes
            .iter()
            .map(|k| (k.to_vec(), Some(vec![1])))
            .collect::<WriteSet>(),
    }
}

/// One iteration step: under `prefix`, after `after`, `found` was next.
pub(crate) fn step(prefix: &[u8], after: Option<&[u8]>, found: Option<&[u8]>) -> RangeRead {
    RangeRead {
        prefix: prefix.to_vec(),
        after: after.map(<[u8]>::to_vec),
        found: found.map(<[u8]>::to_vec),
    }
}
