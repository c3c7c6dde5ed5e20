#include "tap/app/contract_check.hpp"

#include <simdjson.h>

#include <fstream>
#include <istream>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <vector>

#include "tap/app/dynamodb_store.hpp"
#include "tap/app/function_config.hpp"
#include "tap/app/function_settings_table.hpp"
#include "tap/core/clock_spec.hpp"
#include "tap/core/json_text.hpp"
#include "tap/core/rules.hpp"

namespace tap::contract {
namespace {

std::string verdict(const std::vector<std::string>& reasons) {
  if (reasons.empty()) return R"({"valid":true})";
  std::string out = R"({"valid":false,"reasons":[)";
  for (std::size_t i = 0; i < reasons.size(); ++i) {
    if (i > 0) out += ',';
    json::append_string(out, reasons[i]);
  }
  return out + "]}";
}

std::string request_error(std::string_view why) {
  std::string out = R"({"error":)";
  json::append_string(out, why);
  return out + "}";
}

// {"name": string, "value": string}, nothing else.
std::optional<std::pair<std::string, std::string>> parse_request(std::string_view request) {
  simdjson::ondemand::parser parser;
  const simdjson::padded_string padded(request);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(obj)) return std::nullopt;
  std::optional<std::string> name, value;
  for (auto field : obj) {
    std::string_view key, text;
    if (field.unescaped_key().get(key) || field.value().get_string().get(text)) return std::nullopt;
    if (key == "name" && !name) {
      name.emplace(text);
    } else if (key == "value" && !value) {
      value.emplace(text);
    } else {
      return std::nullopt;
    }
  }
  if (!name || !value || doc.current_location().error() != simdjson::OUT_OF_BOUNDS) return std::nullopt;
  return std::pair{std::move(*name), std::move(*value)};
}

int batch(std::istream& in, std::ostream& out, std::string (*judge)(std::string_view)) {
  for (std::string line; std::getline(in, line);) out << judge(line) << '\n' << std::flush;
  return 0;
}

int check_file(const std::string& path, std::ostream& err) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    err << path << ": cannot read the rules document\n";
    return 2;
  }
  std::ostringstream text;
  text << file.rdbuf();
  const auto reasons = validate_rules(text.str());
  for (const auto& reason : reasons) err << path << ": " << reason << '\n';
  return reasons.empty() ? 0 : 1;
}

// The environment of a start-up with `setting` (name, value) set, the table's other settings unset and the
// required variables of both functions (the processor's and the API's) set to placeholders.
std::map<std::string, std::string, std::less<>> env_with(
    std::optional<std::pair<std::string, std::string>> setting) {
  std::map<std::string, std::string, std::less<>> vars = {{"ALERTS_TABLE", "alerts"},
                                                          {"STATE_TABLE", "state"},
                                                          {"TOPIC_ARN", "topic"},
                                                          {"DLQ_URL", "dlq"},
                                                          {"RULES_TABLE", "rules"}};
  if (setting) vars[setting->first] = setting->second;
  return vars;
}

EnvLookup lookup(const std::map<std::string, std::string, std::less<>>& vars) {
  return [&vars](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace

std::string rules_verdict(std::string_view document) { return verdict(validate_rules(document)); }

std::string decoded_state_item(std::string_view item_json) {
  // Its key first: a state item is the symbol's item with the state sort key (markers share the table).
  simdjson::ondemand::parser parser;
  const simdjson::padded_string padded(item_json);
  simdjson::ondemand::document doc;
  std::string_view symbol;
  std::string_view sort_key;
  if (parser.iterate(padded).get(doc) || doc["symbol"]["S"].get_string().get(symbol) ||
      doc["rule_id"]["S"].get_string().get(sort_key) || sort_key != kStateSortKey) {
    return request_error("not a symbol's state item");
  }
  const std::string symbol_text(symbol);
  auto state = parse_symbol_state(item_json);
  if (!state) return request_error(state.error().message);
  std::string out = R"({"symbol":)";
  json::append_string(out, symbol_text);
  out += R"(,"revision":)";
  json::append_number(out, state->revision);
  out += R"(,"ticks":[)";
  for (std::size_t i = 0; i < state->ticks.size(); ++i) {
    const HeldTick& t = state->ticks[i];
    out += i > 0 ? ",[" : "[";
    json::append_number(out, t.pos.ts_micros);
    out += ',';
    json::append_number(out, t.pos.seq);
    out += ',';
    json::append_number(out, t.price);
    out += ']';
  }
  out += R"(],"fires":[)";
  for (std::size_t i = 0; i < state->fires.size(); ++i) {
    const FireRecord& f = state->fires[i];
    out += i > 0 ? R"(,{"rule_id":)" : R"({"rule_id":)";
    json::append_string(out, f.rule_id);
    out += R"(,"version":)";
    json::append_number(out, static_cast<std::uint64_t>(f.version));
    out += R"(,"ts":)";
    json::append_number(out, f.tick.ts_micros);
    out += R"(,"seq":)";
    json::append_number(out, f.tick.seq);
    out += f.crossing ? R"(,"crossing":true)" : R"(,"crossing":false)";
    out += f.stored ? R"(,"stored":true)" : R"(,"stored":false)";
    out += f.notified ? R"(,"notified":true})" : R"(,"notified":false})";
  }
  out += R"(],"fires_complete_from":)";
  if (state->fires_complete_from == INT64_MIN) {
    out += "null";
  } else {
    json::append_number(out, state->fires_complete_from);
  }
  return out + '}';
}

std::string setting_verdict(std::string_view request) {
  auto parsed = parse_request(request);
  if (!parsed) return request_error(R"(a request is {"name": string, "value": string})");
  // One table serves both functions: a value is taken when both start with it.
  const auto vars = env_with(std::move(parsed));
  const auto config = load_function_config(lookup(vars));
  const auto api = load_api_config(lookup(vars));
  std::vector<std::string> reasons;
  if (!config) reasons.push_back(config.error().message);
  if (!api && (config || api.error().message != config.error().message))
    reasons.push_back(api.error().message);
  return verdict(reasons);
}

std::string clock_verdict(std::string_view request) {
  simdjson::ondemand::parser parser;
  const simdjson::padded_string padded(request);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  std::string_view text;
  std::int64_t real = 0;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(obj) || obj["spec"].get_string().get(text) ||
      obj["real"].get_int64().get(real)) {
    return request_error(R"(a request is {"spec": string, "real": integer})");
  }
  const auto spec = parse_clock_spec(text);
  if (!spec) return verdict({spec.error().message});
  std::string out = R"({"valid":true,"virtual":)";
  out += spec->is_virtual ? "true" : "false";
  for (const auto& [name, value] : {std::pair{R"(,"start":)", spec->start_micros},
                                    {R"(,"anchor":)", spec->anchor_micros},
                                    {R"(,"speed":)", spec->speed},
                                    {R"(,"now":)", spec->now(real)}}) {
    out += name;
    out += std::to_string(value);
  }
  return out + "}";
}

std::string setting_defaults() {
  const auto vars = env_with(std::nullopt);
  const FunctionConfig config = load_function_config(lookup(vars)).value();
  const ApiConfig api = load_api_config(lookup(vars)).value();
  std::string out = R"({"LOG_LEVEL":)";
  json::append_string(out, obs::level_name(config.log_level));
  out += R"(,"REORDER_WINDOW_SECONDS":)";
  json::append_string(out, std::to_string(config.reorder_window_seconds));
  out += R"(,"MAX_NOTIFY_AGE_SECONDS":)";
  json::append_string(out, std::to_string(config.max_notify_age_seconds));
  out += R"(,"RULES_SHARDS":)";
  json::append_string(out, std::to_string(config.rules_shards));
  out += R"(,"RULE_QUOTA":)";
  json::append_string(out, std::to_string(api.rule_quota));
  out += R"(,"ALERTS_VISIBLE_AFTER_SECONDS":)";
  json::append_string(out, std::to_string(api.alerts_visible_after_seconds));
  out += R"(,"OPERATOR_GROUP":)";
  json::append_string(out, api.operator_group);
  return out + "}";
}

int run(std::span<const std::string_view> args, std::istream& in, std::ostream& out, std::ostream& err) {
  if (args.size() == 2 && args[0] == "rules") {
    if (args[1] == "--batch") return batch(in, out, rules_verdict);
    return check_file(std::string(args[1]), err);
  }
  if (args.size() == 2 && args[0] == "settings" && args[1] == "--batch")
    return batch(in, out, setting_verdict);
  if (args.size() == 2 && args[0] == "state-item" && args[1] == "--decode") {
    return batch(in, out, decoded_state_item);
  }
  if (args.size() == 2 && args[0] == "clock" && args[1] == "--batch") return batch(in, out, clock_verdict);
  if (args.size() == 2 && args[0] == "clock" && args[1] == "--variable") {
    out << kClockVariable << '\n';
    return 0;
  }
  if (args.size() == 2 && args[0] == "settings" && args[1] == "--defaults") {
    out << setting_defaults() << '\n';
    return 0;
  }
  if (args.size() == 2 && args[0] == "settings" && args[1] == "--table") {
    out << settings::kTableText;
    return 0;
  }
  err << "usage: tap_validate rules FILE | rules --batch | settings --batch | settings --table | "
         "settings --defaults | state-item --decode | clock --batch | clock --variable\n";
  return 2;
}

}  // namespace tap::contract
