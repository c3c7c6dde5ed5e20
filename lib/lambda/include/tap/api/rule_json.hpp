// The API's JSON of rules (A2): a rule definition in parse_rule_spec's property names (what a client sends
// is what it reads back), a rule with its id, state and times, and a version with its effective window.
// Times are ISO-8601 UTC (timestamp.hpp's normalised form); an open window end is null. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tap/core/result.hpp"
#include "tap/core/rule_change.hpp"

namespace tap::api {

// A rule's state as the API shows it (R1): stored (active, paused, deleted) or derived (triggered: the
// current arming's `once` marker exists; expired: the API's clock is at or past expires_at). Precedence:
// deleted, expired, paused, triggered, active.
enum class ApiRuleState { active, paused, triggered, expired, deleted };
std::string_view to_string(ApiRuleState s);
bool parse_state(std::string_view text, ApiRuleState& out);
ApiRuleState api_state(const RuleRecord& record, bool triggered, std::int64_t now_micros);

// The definition's properties, without braces ("\"name\":...,\"symbol\":...").
void append_spec_members(std::string& out, const RuleSpec& spec);
std::string spec_json(const RuleSpec& spec);
std::string rule_json(const RuleRecord& record, ApiRuleState state);
std::string version_json(const Rule& version);
std::string time_json(std::int64_t micros);  // "2026-...Z", or null for an open window start or end

// RFC 7396 merge patch (top level) of a definition: `patch` is a JSON object whose properties replace the
// current ones, null removes one; a new `mode` drops the old mode's parameter unless the patch names it.
// The result is validated by parse_rule_spec, so its errors name the body's fields.
Result<RuleSpec, std::vector<FieldError>> patch_spec(const RuleSpec& current, std::string_view patch);

}  // namespace tap::api
