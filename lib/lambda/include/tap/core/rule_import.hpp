// R6 import mapping (pure): a rules document in the first version's format (config/alert-rules.json) becomes
// the changes that make an owner's rules equal to it. `enabled: false` -> paused; `cooldown_seconds` (or
// the document default; 0 becomes 1) -> mode `every`; the document's rule id -> the rule's name. Idempotent
// per (owner, name): when the owner's rules already equal the document, the plan is empty; an edited entry
// becomes an edit (and a pause/resume when `enabled` changed); an entry new by name becomes a create. Rules
// of the owner absent from the document are left alone (an import never deletes).
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "tap/core/result.hpp"
#include "tap/core/rule_change.hpp"

namespace tap {

// The document is validated by THE definition (validate_rules); on failure the error lists every problem.
// `existing`: the owner's rules not deleted. Changes come in document order.
Result<std::vector<ChangeRequest>> plan_import(std::string_view document, std::string_view owner,
                                               std::span<const RuleRecord> existing);

}  // namespace tap
