#include "tap/app/dynamodb_store.hpp"

#include <simdjson.h>

#include <charconv>

#include "tap/core/json_text.hpp"

namespace tap {
namespace {

constexpr std::string_view kConditionalCheckFailed = "ConditionalCheckFailedException";

std::string state_key_json(const std::string& symbol, const std::string& rule_id) {
  std::string out = R"({"symbol":{"S":)";
  json::append_string(out, symbol);
  out += R"(},"rule_id":{"S":)";
  json::append_string(out, rule_id);
  out += "}}";
  return out;
}

// The alert's sort key: "<normalised tick ts>#<rule id>" (F4).
std::string alert_sort_key(const AlertId& id) {
  std::string s;
  s.reserve(kNormalisedTimestampLength + 1 + id.rule_id.size());
  s.resize(kNormalisedTimestampLength);
  format_timestamp_to(id.tick_micros, s.data());
  s += '#';
  s += id.rule_id;
  return s;
}

std::string alert_key_json(const AlertId& id) {
  std::string out = R"({"symbol":{"S":)";
  json::append_string(out, id.symbol);
  out += R"(},"timestamp":{"S":)";
  json::append_string(out, alert_sort_key(id));
  out += "}}";
  return out;
}

// "name":{"N":"value"} and "name":{"S":value}: one attribute of an item or an expression value.
template <typename T>
void append_n(std::string& out, std::string_view name, T value) {
  out += '"';
  out += name;
  out += R"(":{"N":")";
  json::append_number(out, value);
  out += R"("})";
}

void append_s(std::string& out, std::string_view name, std::string_view value) {
  out += '"';
  out += name;
  out += R"(":{"S":)";
  json::append_string(out, value);
  out += '}';
}

Result<std::int64_t> number_attribute(simdjson::ondemand::value value, std::string_view name) {
  std::string_view text;
  if (value["N"].get_string().get(text) != simdjson::SUCCESS) {
    return Error{"invalid_state", std::string(name) + ": expected a number attribute"};
  }
  std::int64_t out = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return Error{"invalid_state", std::string(name) + ": not an integer: " + std::string(text)};
  }
  return out;
}

}  // namespace

Result<StateItem> parse_state_item(std::string_view item_json) {
  simdjson::ondemand::parser parser;
  const simdjson::padded_string padded(item_json);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(object) != simdjson::SUCCESS) {
    return Error{"invalid_state", "state item is not a JSON object"};
  }
  StateItem item;
  RuleState& state = item.state;
  state.exists = true;
  for (auto field : object) {
    std::string_view name;
    simdjson::ondemand::value value;
    if (field.unescaped_key().get(name) != simdjson::SUCCESS ||
        field.value().get(value) != simdjson::SUCCESS) {
      return Error{"invalid_state", "state item is not valid JSON"};
    }
    if (name == "symbol" || name == "rule_id") {
      std::string_view text;
      if (value["S"].get_string().get(text) != simdjson::SUCCESS) {
        return Error{"invalid_state", std::string(name) + ": expected a string"};
      }
      (name == "symbol" ? item.symbol : item.rule_id) = text;
    } else if (name == kAttrSide) {
      std::string_view text;
      if (value["S"].get_string().get(text) != simdjson::SUCCESS)
        return Error{"invalid_state", "side: expected a string"};
      state.side = parse_side(text);
      if (!state.side) return Error{"invalid_state", "side: unknown value " + std::string(text)};
    } else if (name == kAttrSideTs || name == kAttrLastFireTs) {
      const std::string key(name);
      auto n = number_attribute(value, key);
      if (!n) return n.error();
      (name == kAttrSideTs ? state.side_ts : state.last_fire_ts) = n.value();
    }
  }
  return item;
}

std::string alert_item(const AlertRecord& record) {
  const Rule& r = *record.alert.rule;
  const Tick& t = *record.alert.tick;
  const AlertId id = alert_id(r, t);
  std::string out;
  out.reserve(1024);  // a typical item is ~650 bytes: one allocation
  out += '{';
  append_s(out, "symbol", t.symbol);
  const auto attr_s = [&out](std::string_view name, std::string_view value) {
    out += ',';
    append_s(out, name, value);
  };
  const auto attr_n = [&out](std::string_view name, auto value) {
    out += ',';
    append_n(out, name, value);
  };
  attr_s("timestamp", alert_sort_key(id));
  attr_s("alert_id", to_string(id));
  attr_s("rule_id", r.id);
  attr_s("condition", to_string(r.condition));
  attr_n("threshold", r.threshold);
  attr_n("price", t.price);
  if (t.bid) attr_n("bid", *t.bid);
  if (t.ask) attr_n("ask", *t.ask);
  if (t.volume) attr_n("volume", *t.volume);
  attr_s("severity", to_string(r.severity));
  attr_s("tick_timestamp", t.ts.text());
  attr_s("message_id", record.alert.message_id);
  attr_s("created_at", format_timestamp(record.created_at_micros));
  attr_s("notification_state", "pending");  // until mark_sent sets "sent"
  out += '}';
  return out;
}

dynamodb::UpdateItem state_update(const std::string& table, const Rule& rule, const StateKey& key,
                                  const Step& step, std::int64_t now_micros) {
  dynamodb::UpdateItem u;
  u.table = table;
  u.key_json = state_key_json(key.symbol, rule.id);
  // DynamoDB refuses a request that declares a name its expressions do not use (ValidationException): #lf is
  // declared only where last_fire_ts is written or tested.
  u.names_json = R"({"#u":"updated_at")";
  std::string values = "{";
  append_s(values, ":now", format_timestamp(now_micros));
  if (is_crossing(rule.condition)) {
    u.names_json += R"(,"#s":"side","#st":"side_ts")";
    u.update_expression = "SET #s = :side, #st = :side_ts, #u = :now";
    values += ',';
    append_s(values, ":side", to_string(*step.next.side));
    values += ',';
    append_n(values, ":side_ts", *step.next.side_ts);
    // Compare-and-swap on side_ts: each side write carries a newer tick time, so it works as a version.
    if (step.expected.side_ts) {
      u.condition_expression = "#st = :expected";
      values += ',';
      append_n(values, ":expected", *step.expected.side_ts);
    } else {
      u.condition_expression = "attribute_not_exists(#st)";
    }
    if (step.kind == Step::Kind::fire) {
      u.names_json += R"(,"#lf":"last_fire_ts")";
      u.update_expression += ", #lf = :fire";
      values += ',';
      append_n(values, ":fire", *step.next.last_fire_ts);
    }
  } else {
    // Level rules: the fire is allowed iff no fire is stored within the cooldown before this tick.
    u.names_json += R"(,"#lf":"last_fire_ts")";
    u.update_expression = "SET #lf = :fire, #u = :now";
    u.condition_expression = "attribute_not_exists(#lf) OR #lf <= :cutoff";
    values += ',';
    append_n(values, ":fire", *step.next.last_fire_ts);
    values += ',';
    append_n(values, ":cutoff", step.cooldown_cutoff);
  }
  u.names_json += '}';
  u.values_json = values + '}';
  u.return_old_on_condition_failure = true;
  return u;
}

DynamoDbStateStore::DynamoDbStateStore(dynamodb::Client& client, std::string state_table,
                                       std::string alerts_table, const RuleSet& rules,
                                       std::function<std::int64_t()> now_micros, TokenSource tokens)
    : client_(client),
      state_table_(std::move(state_table)),
      alerts_table_(std::move(alerts_table)),
      rules_(rules),
      now_micros_(std::move(now_micros)),
      tokens_(std::move(tokens)) {
  for (std::size_t i = 0; i < rules_.rules().size(); ++i) rule_by_id_[rules_.rule(i).id] = i;
}

Result<StateMap, AwsError> DynamoDbStateStore::load(const std::vector<StateKey>& keys, Deadline deadline) {
  dynamodb::BatchGet request;
  auto& spec = request[state_table_];
  spec.consistent_read = true;
  for (const StateKey& k : keys)
    spec.keys_json.push_back(state_key_json(k.symbol, rules_.rule(k.rule_index).id));
  auto got = client_.batch_get_item(request, deadline);
  if (!got) return got.error();
  StateMap out;
  for (const std::string& item : got.value()[state_table_]) {
    auto parsed = parse_state_item(item);
    if (!parsed) return make_aws_error(parsed.error().code, parsed.error().message);
    const auto rule = rule_by_id_.find(parsed->rule_id);
    if (rule == rule_by_id_.end()) continue;  // unknown key (a rule removed since): nothing to evaluate
    out[StateKey{rule->second, parsed->symbol}] = parsed->state;
  }
  return out;
}

Result<RuleState, AwsError> DynamoDbStateStore::load_one(const StateKey& key, Deadline deadline) {
  auto loaded = load({key}, deadline);
  if (!loaded) return loaded.error();
  const auto found = loaded->find(key);
  return found == loaded->end() ? RuleState{} : found->second;
}

Result<WriteResult, AwsError> DynamoDbStateStore::apply(const StateKey& key, const Step& step,
                                                        const AlertRecord* alert, Deadline deadline) {
  const Rule& rule = rules_.rule(key.rule_index);
  dynamodb::UpdateItem update = state_update(state_table_, rule, key, step, now_micros_());
  if (alert == nullptr) {
    auto updated = client_.update_item(update, deadline);
    if (updated) return WriteResult{true, step.next};
    if (updated.error().code != kConditionalCheckFailed) return updated.error();
    if (updated.error().item_json.empty()) {
      auto current = load_one(key, deadline);
      if (!current) return current.error();
      return WriteResult{false, current.value()};
    }
    auto current = parse_state_item(updated.error().item_json);
    if (!current) return make_aws_error(current.error().code, current.error().message);
    return WriteResult{false, current->state};
  }
  dynamodb::PutItem put;
  put.table = alerts_table_;
  put.item_json = alert_item(*alert);
  put.condition_expression = "attribute_not_exists(#k)";
  put.names_json = R"({"#k":"symbol"})";
  dynamodb::TransactWrite tx;
  tx.items.emplace_back(std::move(update));
  tx.items.emplace_back(std::move(put));
  tx.client_request_token = tokens_();
  auto written = client_.transact_write_items(tx, deadline);
  if (written) return WriteResult{true, step.next};
  const AwsError& error = written.error();
  const auto& reasons = error.cancellation_reasons;
  const bool state_refused = !reasons.empty() && (reasons[0].code == "ConditionalCheckFailed" ||
                                                  reasons[0].code == "TransactionConflict");
  if (!state_refused) {
    if (reasons.size() > 1 && reasons[1].code == "ConditionalCheckFailed") {
      return make_aws_error("AlertExists", "alert " + std::string(rule.id) +
                                               " already stored but the state "
                                               "did not record its fire");
    }
    return error;
  }
  if (!reasons[0].item_json.empty()) {
    auto current = parse_state_item(reasons[0].item_json);
    if (!current) return make_aws_error(current.error().code, current.error().message);
    return WriteResult{false, current->state};
  }
  auto current = load_one(key, deadline);
  if (!current) return current.error();
  return WriteResult{false, current.value()};
}

DynamoDbAlertLedger::DynamoDbAlertLedger(dynamodb::Client& client, std::string alerts_table)
    : client_(client), table_(std::move(alerts_table)) {}

Result<bool, AwsError> DynamoDbAlertLedger::pending(const AlertId& id, Deadline deadline) {
  // A write that succeeds only on a pending alert: the answer without needing read permissions.
  dynamodb::UpdateItem u;
  u.table = table_;
  u.key_json = alert_key_json(id);
  u.update_expression = "SET #rc = if_not_exists(#rc, :zero) + :one";
  u.condition_expression = "#ns = :pending";
  u.names_json = R"({"#rc":"recovery_checks","#ns":"notification_state"})";
  u.values_json = R"({":zero":{"N":"0"},":one":{"N":"1"},":pending":{"S":"pending"}})";
  auto updated = client_.update_item(u, deadline);
  if (updated) return true;
  if (updated.error().code == kConditionalCheckFailed) return false;
  return updated.error();
}

Result<bool, AwsError> DynamoDbAlertLedger::mark_sent(const AlertId& id, const std::string& sns_message_id,
                                                      std::int64_t notified_at_micros, Deadline deadline) {
  dynamodb::UpdateItem u;
  u.table = table_;
  u.key_json = alert_key_json(id);
  u.update_expression = "SET #ns = :sent, #na = :at, #mid = :mid";
  u.condition_expression = "attribute_exists(#k)";
  u.names_json = R"({"#ns":"notification_state","#na":"notified_at","#mid":"sns_message_id","#k":"symbol"})";
  std::string values = R"({":sent":{"S":"sent"},)";
  append_s(values, ":at", format_timestamp(notified_at_micros));
  values += ',';
  append_s(values, ":mid", sns_message_id);
  u.values_json = values + '}';
  auto updated = client_.update_item(u, deadline);
  if (!updated) return updated.error();
  return true;
}

}  // namespace tap
