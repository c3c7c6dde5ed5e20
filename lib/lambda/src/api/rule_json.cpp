#include "tap/api/rule_json.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <map>

#include "tap/core/json_text.hpp"
#include "tap/core/timestamp.hpp"

namespace tap::api {
namespace {

constexpr std::array<std::pair<ApiRuleState, std::string_view>, 5> kStates{{
    {ApiRuleState::active, "active"},
    {ApiRuleState::paused, "paused"},
    {ApiRuleState::triggered, "triggered"},
    {ApiRuleState::expired, "expired"},
    {ApiRuleState::deleted, "deleted"},
}};

void member(std::string& out, std::string_view name) {
  if (out.back() != '{') out += ",";
  json::append_string(out, name);
  out += ":";
}

void string_member(std::string& out, std::string_view name, std::string_view value) {
  member(out, name);
  json::append_string(out, value);
}

void int_member(std::string& out, std::string_view name, std::int64_t value) {
  member(out, name);
  json::append_number(out, value);
}

}  // namespace

std::string_view to_string(ApiRuleState s) {
  for (const auto& [state, name] : kStates) {
    if (state == s) return name;
  }
  return "active";  // LCOV_EXCL_LINE: every enumerator is in the table
}

bool parse_state(std::string_view text, ApiRuleState& out) {
  for (const auto& [state, name] : kStates) {
    if (name == text) {
      out = state;
      return true;
    }
  }
  return false;
}

ApiRuleState api_state(const RuleRecord& record, bool triggered, std::int64_t now_micros) {
  if (record.state == RuleState::deleted) return ApiRuleState::deleted;
  if (record.spec.expires_at_micros && now_micros >= *record.spec.expires_at_micros) {
    return ApiRuleState::expired;
  }
  if (record.state == RuleState::paused) return ApiRuleState::paused;
  return triggered ? ApiRuleState::triggered : ApiRuleState::active;
}

std::string time_json(std::int64_t micros) {
  if (micros == EffectiveWindow::kOpenStart || micros == EffectiveWindow::kOpenEnd) return "null";
  std::string out;
  json::append_string(out, format_timestamp(micros));
  return out;
}

void append_spec_members(std::string& out, const RuleSpec& spec) {
  string_member(out, "name", spec.name);
  string_member(out, "symbol", spec.symbol);
  string_member(out, "condition", to_string(spec.condition));
  member(out, "threshold");
  json::append_number(out, spec.threshold);
  string_member(out, "severity", to_string(spec.severity));
  if (!spec.description.empty()) string_member(out, "description", spec.description);
  string_member(out, "mode", to_string(spec.mode));
  if (spec.mode == TriggerMode::every) int_member(out, "cooldown_seconds", spec.cooldown_seconds);
  if (spec.mode == TriggerMode::once_per_bar) int_member(out, "bar_seconds", spec.bar_seconds);
  if (spec.expires_at_micros) {
    member(out, "expires_at");
    out += time_json(*spec.expires_at_micros);
  }
  if (!spec.message_template.empty()) string_member(out, "message_template", spec.message_template);
}

std::string spec_json(const RuleSpec& spec) {
  std::string out = "{";
  append_spec_members(out, spec);
  return out + "}";
}

std::string rule_json(const RuleRecord& record, ApiRuleState state) {
  std::string out = "{";
  string_member(out, "id", record.id);
  string_member(out, "owner", record.owner);
  append_spec_members(out, record.spec);
  string_member(out, "state", to_string(state));
  int_member(out, "revision", record.revision);
  int_member(out, "arming", record.arming);
  member(out, "created_at");
  out += time_json(record.created_at_micros);
  member(out, "updated_at");
  out += time_json(record.updated_at_micros);
  return out + "}";
}

std::string version_json(const Rule& version) {
  std::string out = "{";
  int_member(out, "version", version.version);
  member(out, "effective_from");
  out += time_json(version.window.from_micros);
  member(out, "effective_until");
  out += time_json(version.window.until_micros);
  string_member(out, "symbol", version.symbol);
  string_member(out, "condition", to_string(version.condition));
  member(out, "threshold");
  json::append_number(out, version.threshold);
  string_member(out, "severity", to_string(version.severity));
  string_member(out, "mode", to_string(version.mode));
  if (version.mode == TriggerMode::every) int_member(out, "cooldown_seconds", version.cooldown_seconds);
  if (version.mode == TriggerMode::once_per_bar) int_member(out, "bar_seconds", version.bar_seconds);
  int_member(out, "arming", version.arming);
  if (version.expires_at_micros) {
    member(out, "expires_at");
    out += time_json(*version.expires_at_micros);
  }
  member(out, "enabled");
  out += version.enabled ? "true" : "false";
  return out + "}";
}

Result<RuleSpec, std::vector<FieldError>> patch_spec(const RuleSpec& current, std::string_view patch) {
  // The body's own problems first, by THE parser (the same 400s and messages as a create): an unreadable
  // body and duplicate keys. Its "required" complaints do not apply to a patch.
  auto alone = parse_rule_spec(patch);
  if (!alone) {
    std::vector<FieldError> fatal;
    for (const FieldError& e : alone.error()) {
      if (e.field == "(body)" || e.message.starts_with("duplicate key")) fatal.push_back(e);
    }
    if (!fatal.empty()) return fatal;
  }
  simdjson::dom::parser parser;
  simdjson::dom::object changes;
  if (parser.parse(patch.data(), patch.size()).get(changes)) {
    // The DOM refuses a number out of range, which the parser above named by its field (as a create's
    // 422 does); "required" complaints are a create's only.
    std::vector<FieldError> named;
    if (!alone) {
      std::ranges::copy_if(alone.error(), std::back_inserter(named),
                           [](const FieldError& e) { return e.message != "required"; });
    }
    return named.empty() ? std::vector<FieldError>{{"(body)", "a number is out of range"}} : named;
  }
  simdjson::dom::parser current_parser;
  const std::string current_text = spec_json(current);
  simdjson::dom::object base = current_parser.parse(current_text).get_object().value_unsafe();
  std::map<std::string, std::string, std::less<>> merged;
  for (auto field : base) merged[std::string(field.key)] = simdjson::minify(field.value);
  simdjson::dom::element mode;
  if (!changes.at_key("mode").get(mode)) {
    merged.erase("cooldown_seconds");
    merged.erase("bar_seconds");
  }
  for (auto field : changes) {
    if (field.value.is_null()) {
      merged.erase(std::string(field.key));
    } else {
      merged[std::string(field.key)] = simdjson::minify(field.value);
    }
  }
  std::string text = "{";
  for (const auto& [key, value] : merged) {
    if (text.size() > 1) text += ",";
    json::append_string(text, key);
    text += ":" + value;
  }
  return parse_rule_spec(text + "}");
}

}  // namespace tap::api
