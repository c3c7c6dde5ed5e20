#include "tap/app/rules_dynamodb.hpp"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <random>
#include <set>

#include "tap/core/base64.hpp"
#include "tap/core/json_text.hpp"

namespace tap {
namespace {

constexpr std::string_view kOwnerPrefix = "owner#";
constexpr std::string_view kRulePrefix = "rule#";
constexpr std::string_view kNamePrefix = "name#";
constexpr std::string_view kQuotaSortKey = "quota";
constexpr std::string_view kIdempotencyPrefix = "idem#";
constexpr std::string_view kHeadPrefix = "head#";
constexpr std::string_view kHeadSortKey = "head";
constexpr std::string_view kLogPrefix = "log#";
constexpr std::string_view kControlsKey = "controls";
constexpr std::string_view kSymbolPrefix = "symbol#";
constexpr std::string_view kCursorKeysKey = "apikeys";
constexpr std::string_view kCursorKeyPrefix = "cursor#";
constexpr std::size_t kTimeDigits = 19;  // every non-negative int64 in micros, zero-padded: sorts as text
constexpr std::string_view kConditionalCheckFailed = "ConditionalCheckFailedException";

constexpr RuleState kStates[] = {RuleState::active, RuleState::paused, RuleState::deleted};
constexpr Condition kConditions[] = {Condition::price_above,   Condition::price_below,
                                     Condition::crosses_above, Condition::crosses_below,
                                     Condition::spread_above,  Condition::volume_above};
constexpr Severity kSeverities[] = {Severity::info, Severity::warning, Severity::critical};
constexpr TriggerMode kModes[] = {TriggerMode::once, TriggerMode::every, TriggerMode::once_per_bar};

// The stored names of the states (storage format: the adapter's own).
std::string_view state_name(RuleState s) {
  switch (s) {
    case RuleState::active:
      return "active";
    case RuleState::paused:
      return "paused";
    case RuleState::deleted:
      break;
  }
  return "deleted";
}

template <typename E, std::size_t N, typename Name>
std::optional<E> named(std::string_view text, const E (&all)[N], Name name) {
  for (const E e : all) {
    if (name(e) == text) return e;
  }
  return std::nullopt;
}

std::string concat(std::string_view a, std::string_view b) {
  std::string out(a);
  out += b;
  return out;
}

std::string padded_time(std::int64_t micros) {
  std::string digits = std::to_string(std::max<std::int64_t>(micros, 0));
  return std::string(kTimeDigits - digits.size(), '0') + digits;
}

std::string key_json(std::string_view pk, std::string_view sk) {
  std::string out = R"({"pk":{"S":)";
  json::append_string(out, pk);
  out += R"(},"sk":{"S":)";
  json::append_string(out, sk);
  return out + "}}";
}

std::string head_pk(std::uint32_t shard) { return concat(kHeadPrefix, std::to_string(shard)); }
std::string log_pk(std::uint32_t shard) { return concat(kLogPrefix, std::to_string(shard)); }
std::string owner_pk(std::string_view owner) { return concat(kOwnerPrefix, owner); }

// ---- writing DynamoDB JSON ----

// One object of attributes ("name":{"T":value}, ...).
class ItemWriter {
 public:
  ItemWriter& s(std::string_view name, std::string_view value) {
    open(name, "S");
    json::append_string(out_, value);
    return close();
  }
  template <typename T>
  ItemWriter& n(std::string_view name, T value) {
    open(name, "N");
    out_ += '"';
    json::append_number(out_, value);
    out_ += '"';
    return close();
  }
  ItemWriter& bytes(std::string_view name, std::string_view value) {
    open(name, "B");
    json::append_string(out_, base64::encode(value));
    return close();
  }
  ItemWriter& b(std::string_view name, bool value) {
    open(name, "BOOL");
    out_ += value ? "true" : "false";
    return close();
  }
  // A list of maps, each written by `each(writer, element)`.
  template <typename Range, typename Each>
  ItemWriter& l(std::string_view name, const Range& range, Each each) {
    open(name, "L");
    out_ += '[';
    bool first = true;
    for (const auto& element : range) {
      if (!first) out_ += ',';
      first = false;
      ItemWriter m;
      each(m, element);
      out_ += R"({"M":)";
      out_ += m.str();
      out_ += '}';
    }
    out_ += ']';
    return close();
  }
  std::string str() const { return out_ + '}'; }

 private:
  void open(std::string_view name, std::string_view type) {
    out_ += out_.size() > 1 ? "," : "";
    json::append_string(out_, name);
    out_ += R"(:{")";
    out_ += type;
    out_ += R"(":)";
  }
  ItemWriter& close() {
    out_ += '}';
    return *this;
  }
  std::string out_ = "{";
};

void write_window(ItemWriter& w, const EffectiveWindow& window) {
  w.n("from", window.from_micros);
  if (window.until_micros != EffectiveWindow::kOpenEnd) w.n("until", window.until_micros);
}

void write_version(ItemWriter& w, const Rule& v) {
  w.n("v", static_cast<std::uint64_t>(v.version));
  write_window(w, v.window);
  w.s("symbol", v.symbol)
      .s("condition", to_string(v.condition))
      .n("threshold", v.threshold)
      .s("severity", to_string(v.severity))
      .s("mode", to_string(v.mode))
      .n("cooldown", v.cooldown_seconds)
      .n("bar", v.bar_seconds)
      .n("arming", static_cast<std::uint64_t>(v.arming));
  if (v.expires_at_micros) w.n("expires_at", *v.expires_at_micros);
  if (!v.description.empty()) w.s("description", v.description);
  if (!v.enabled) w.b("enabled", false);
}

// ---- reading DynamoDB JSON ----

// The attributes of one item or map, read by name and type; the first problem is kept, later reads return
// defaults so that a decoder reads straight through and checks ok() once.
class Fields {
 public:
  explicit Fields(simdjson::dom::object object) : object_(object) {}

  std::optional<std::string_view> opt_s(std::string_view name) {
    auto v = typed(name, "S");
    std::string_view text;
    if (!v) return std::nullopt;
    if (v->get_string().get(text) != simdjson::SUCCESS) return fail(name, "not a string"), std::nullopt;
    return text;
  }
  std::string_view s(std::string_view name) { return required(name, opt_s(name)).value_or(""); }

  std::optional<std::int64_t> opt_n(std::string_view name) {
    const auto text = number_text(name);
    if (!text) return std::nullopt;
    std::int64_t out = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), out);
    if (ec != std::errc{} || end != text->data() + text->size()) return fail(name, "not an integer"), 0;
    return out;
  }
  std::int64_t n(std::string_view name) { return required(name, opt_n(name)).value_or(0); }
  std::uint32_t u32(std::string_view name) {
    const std::int64_t v = n(name);
    if (v < 0 || v > UINT32_MAX) return fail(name, "out of range"), 0;
    return static_cast<std::uint32_t>(v);
  }
  double d(std::string_view name) {
    const auto text = required(name, number_text(name));
    if (!text) return 0;
    double out = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), out);
    if (ec != std::errc{} || end != text->data() + text->size() || !std::isfinite(out)) {
      return fail(name, "not a finite number"), 0;
    }
    return out;
  }
  std::string bytes(std::string_view name) {
    auto v = required(name, typed(name, "B"));
    std::string_view text;
    if (!v) return {};
    std::optional<std::string> out;
    if (v->get_string().get(text) == simdjson::SUCCESS) out = base64::decode(text);
    if (!out) return fail(name, "not base64"), std::string();
    return std::move(*out);
  }
  std::optional<bool> opt_bool(std::string_view name) {
    auto v = typed(name, "BOOL");
    bool out = false;
    if (!v) return std::nullopt;
    if (v->get_bool().get(out) != simdjson::SUCCESS) return fail(name, "not a boolean"), std::nullopt;
    return out;
  }
  // Each map of a list attribute (absent: none).
  std::vector<simdjson::dom::object> maps(std::string_view name) {
    std::vector<simdjson::dom::object> out;
    auto v = typed(name, "L");
    simdjson::dom::array list;
    if (!v) return out;
    if (v->get_array().get(list) != simdjson::SUCCESS) return fail(name, "not a list"), out;
    for (simdjson::dom::element e : list) {
      simdjson::dom::object m;
      if (e["M"].get_object().get(m) != simdjson::SUCCESS) return fail(name, "an element is not a map"), out;
      out.push_back(m);
    }
    return out;
  }
  template <typename E, std::size_t N>
  E choice(std::string_view name, const E (&all)[N]) {
    const std::string_view text = s(name);
    const auto e = named(text, all, [](E x) { return to_string(x); });
    if (!e && ok()) fail(name, "unknown value");
    return e.value_or(all[0]);
  }

  void fail(std::string_view name, std::string_view why) {
    if (error_.empty()) error_ = std::string(name) + ": " + std::string(why);
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  std::optional<simdjson::dom::element> typed(std::string_view name, std::string_view type) {
    simdjson::dom::element attribute;
    if (object_[name].get(attribute) != simdjson::SUCCESS) return std::nullopt;
    simdjson::dom::element value;
    if (attribute[type].get(value) != simdjson::SUCCESS) {
      fail(name, concat("expected type ", type));
      return std::nullopt;
    }
    return value;
  }
  std::optional<std::string_view> number_text(std::string_view name) {
    auto v = typed(name, "N");
    std::string_view text;
    if (!v) return std::nullopt;
    if (v->get_string().get(text) != simdjson::SUCCESS) return fail(name, "not a number"), std::nullopt;
    return text;
  }
  template <typename T>
  std::optional<T> required(std::string_view name, std::optional<T> v) {
    if (!v && ok()) fail(name, "missing");
    return v;
  }

  simdjson::dom::object object_;
  std::string error_;
};

// The key attributes of an item, and the item's attributes.
struct ParsedItem {
  std::string pk;
  std::string sk;
  simdjson::dom::object object;
};

simdjson::dom::parser& dom_parser() {
  static thread_local simdjson::dom::parser instance;
  return instance;
}

Result<ParsedItem> parse_item(std::string_view item_json) {
  simdjson::dom::element doc;
  ParsedItem out;
  if (dom_parser().parse(item_json.data(), item_json.size()).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(out.object) != simdjson::SUCCESS) {
    return Error{"invalid_rule_item", "not a JSON object"};
  }
  Fields keys(out.object);
  out.pk = keys.s("pk");
  out.sk = keys.s("sk");
  if (!keys.ok()) return Error{"invalid_rule_item", keys.error()};
  return out;
}

EffectiveWindow read_window(Fields& f) {
  EffectiveWindow w;
  w.from_micros = f.n("from");
  w.until_micros = f.opt_n("until").value_or(EffectiveWindow::kOpenEnd);
  if (f.ok() && w.empty()) f.fail("until", "window is empty (until <= from)");
  return w;
}

Rule read_version(simdjson::dom::object m, const RuleRecord& record, std::string& error) {
  Fields f(m);
  Rule v;
  v.id = record.id;
  v.owner = record.owner;
  v.version = f.u32("v");
  v.window = read_window(f);
  v.symbol = f.s("symbol");
  v.condition = f.choice("condition", kConditions);
  v.threshold = f.d("threshold");
  v.severity = f.choice("severity", kSeverities);
  v.mode = f.choice("mode", kModes);
  v.cooldown_seconds = f.n("cooldown");
  v.bar_seconds = f.n("bar");
  v.arming = f.u32("arming");
  v.expires_at_micros = f.opt_n("expires_at");
  v.description = f.opt_s("description").value_or("");
  v.enabled = f.opt_bool("enabled").value_or(true);
  if (!f.ok() && error.empty()) error = "versions: " + f.error();
  return v;
}

Error invalid_item(const ParsedItem& item, std::string_view why) {
  return Error{"invalid_rule_item", item.pk + " " + item.sk + ": " + std::string(why)};
}

Result<RuleRecord> read_record(const ParsedItem& item) {
  if (!item.pk.starts_with(kOwnerPrefix) || !item.sk.starts_with(kRulePrefix)) {
    return invalid_item(item, "not a rule record");
  }
  RuleRecord r;
  r.owner = item.pk.substr(kOwnerPrefix.size());
  r.id = item.sk.substr(kRulePrefix.size());
  Fields f(item.object);
  RuleSpec& spec = r.spec;
  spec.name = f.s("name");
  spec.symbol = f.s("symbol");
  spec.condition = f.choice("condition", kConditions);
  spec.threshold = f.d("threshold");
  spec.severity = f.choice("severity", kSeverities);
  spec.description = f.opt_s("description").value_or("");
  spec.mode = f.choice("mode", kModes);
  spec.cooldown_seconds = f.n("cooldown");
  spec.bar_seconds = f.n("bar");
  spec.expires_at_micros = f.opt_n("expires_at");
  spec.message_template = f.opt_s("template").value_or("");
  const auto state = named(f.s("state"), kStates, state_name);
  if (!state && f.ok()) f.fail("state", "unknown value");
  r.state = state.value_or(RuleState::active);
  r.arming = f.u32("arming");
  r.revision = f.u32("revision");
  r.created_at_micros = f.n("created");
  r.updated_at_micros = f.n("updated");
  std::string error;
  for (const simdjson::dom::object m : f.maps("versions")) r.versions.push_back(read_version(m, r, error));
  if (!f.ok()) return invalid_item(item, f.error());
  if (!error.empty()) return invalid_item(item, error);
  if (r.revision == 0) return invalid_item(item, "revision: must be >= 1");
  // THE definition of a valid rule (rule_change.hpp) holds for stored records too: an item written by
  // hand or by an older writer that breaks it is skipped, never evaluated.
  if (const auto problems = validate_rule_spec(spec); !problems.empty()) {
    return invalid_item(item, problems.front().field + ": " + problems.front().message);
  }
  for (std::size_t i = 1; i < r.versions.size(); ++i) {
    const Rule& a = r.versions[i - 1];
    const Rule& b = r.versions[i];
    if (b.version <= a.version) return invalid_item(item, "versions: numbers not increasing");
    if (b.window.from_micros < a.window.until_micros) return invalid_item(item, "versions: windows overlap");
  }
  return r;
}

Result<RulesHead> read_head(std::uint32_t shard, Fields f) {
  RulesHead h;
  h.shard = shard;
  const std::int64_t seq = f.opt_n("seq").value_or(0);
  h.fence_micros = f.opt_n("fence").value_or(0);
  if (f.ok() && seq < 0) f.fail("seq", "negative");
  if (!f.ok()) return Error{"invalid_rule_item", "head: " + f.error()};
  h.seq = static_cast<std::uint64_t>(seq);
  return h;
}

// ---- request pieces ----

dynamodb::UpdateItem head_update(const std::string& table, std::uint32_t shard, std::int64_t eff) {
  dynamodb::UpdateItem u;
  u.table = table;
  u.key_json = key_json(head_pk(shard), kHeadSortKey);
  // seq counts every change; the condition is the protocol: no reader holds a fence at or past eff.
  u.update_expression = "ADD #seq :one";
  u.condition_expression = "attribute_not_exists(#f) OR #f < :eff";
  u.names_json = R"({"#seq":"seq","#f":"fence"})";
  ItemWriter values;
  values.n(":one", std::int64_t{1}).n(":eff", eff);
  u.values_json = values.str();
  u.return_old_on_condition_failure = true;
  return u;
}

dynamodb::PutItem log_put(const RulesTableSettings& settings, std::uint32_t shard, std::string_view sk_tail,
                          const RulesHead& head, std::int64_t eff, std::string_view owner,
                          std::string_view rule_id, std::string_view symbol) {
  ItemWriter w;
  w.s("pk", log_pk(shard)).s("sk", padded_time(eff) + "#" + std::string(sk_tail));
  if (!owner.empty()) w.s("owner", owner);
  if (!rule_id.empty()) w.s("rule_id", rule_id);
  if (!symbol.empty()) w.s("symbol", symbol);
  w.n("seq", head.seq + 1).n("ttl", eff / kMicrosPerSecond + settings.log_ttl_seconds);
  dynamodb::PutItem put;
  put.table = settings.table;
  put.item_json = w.str();
  return put;
}

std::string name_item(std::string_view owner, std::string_view name, std::string_view rule_id) {
  ItemWriter w;
  w.s("pk", owner_pk(owner)).s("sk", concat(kNamePrefix, name)).s("rule_id", rule_id);
  return w.str();
}

}  // namespace

// ---- items ----

std::string rule_item(const RuleRecord& record) {
  const RuleSpec& spec = record.spec;
  ItemWriter w;
  w.s("pk", owner_pk(record.owner))
      .s("sk", concat(kRulePrefix, record.id))
      .s("name", spec.name)
      .s("symbol", spec.symbol)
      .s("condition", to_string(spec.condition))
      .n("threshold", spec.threshold)
      .s("severity", to_string(spec.severity))
      .s("mode", to_string(spec.mode))
      .n("cooldown", spec.cooldown_seconds)
      .n("bar", spec.bar_seconds);
  if (!spec.description.empty()) w.s("description", spec.description);
  if (spec.expires_at_micros) w.n("expires_at", *spec.expires_at_micros);
  if (!spec.message_template.empty()) w.s("template", spec.message_template);
  w.s("state", state_name(record.state))
      .n("arming", static_cast<std::uint64_t>(record.arming))
      .n("revision", static_cast<std::uint64_t>(record.revision))
      .n("created", record.created_at_micros)
      .n("updated", record.updated_at_micros)
      .l("versions", record.versions, write_version);
  return w.str();
}

Result<RuleRecord> parse_rule_item(std::string_view item_json) {
  auto item = parse_item(item_json);
  if (!item) return item.error();
  return read_record(item.value());
}

Result<RulesHead> parse_head_item(std::uint32_t shard, std::string_view item_json) {
  auto item = parse_item(item_json);
  if (!item) return item.error();
  return read_head(shard, Fields(item->object));
}

std::string controls_item(const SymbolControlRecord& controls) {
  ItemWriter w;
  w.s("pk", kControlsKey).s("sk", concat(kSymbolPrefix, controls.symbol));
  w.l("suspensions", controls.controls.suspensions, write_window);
  w.l("bands", controls.controls.bands, [](ItemWriter& m, const PriceBand& band) {
    write_window(m, band.window);
    m.n("low", band.low).n("high", band.high);
  });
  return w.str();
}

Result<SymbolControlRecord> parse_controls_item(std::string_view item_json) {
  auto item = parse_item(item_json);
  if (!item) return item.error();
  if (item->pk != kControlsKey || !item->sk.starts_with(kSymbolPrefix)) {
    return invalid_item(item.value(), "not a symbol controls item");
  }
  SymbolControlRecord out;
  out.symbol = item->sk.substr(kSymbolPrefix.size());
  Fields f(item->object);
  std::string error;
  for (const simdjson::dom::object m : f.maps("suspensions")) {
    Fields w(m);
    out.controls.suspensions.push_back(read_window(w));
    if (!w.ok() && error.empty()) error = "suspensions: " + w.error();
  }
  for (const simdjson::dom::object m : f.maps("bands")) {
    Fields b(m);
    PriceBand band;
    band.window = read_window(b);
    band.low = b.d("low");
    band.high = b.d("high");
    if (b.ok() && !(band.low < band.high)) b.fail("high", "not above low");
    if (!b.ok() && error.empty()) error = "bands: " + b.error();
    out.controls.bands.push_back(band);
  }
  if (!f.ok()) return invalid_item(item.value(), f.error());
  if (!error.empty()) return invalid_item(item.value(), error);
  return out;
}

Result<ChangeEntry> parse_log_item(std::string_view item_json) {
  auto item = parse_item(item_json);
  if (!item) return item.error();
  ChangeEntry e;
  const std::string_view sk = item->sk;
  const auto [end, ec] =
      std::from_chars(sk.data(), sk.data() + std::min(sk.size(), kTimeDigits), e.effective_from_micros);
  if (!item->pk.starts_with(kLogPrefix) || ec != std::errc{} || end != sk.data() + kTimeDigits) {
    return invalid_item(item.value(), "not a log item");
  }
  Fields f(item->object);
  e.owner = f.opt_s("owner").value_or("");
  e.rule_id = f.opt_s("rule_id").value_or("");
  e.symbol = f.opt_s("symbol").value_or("");
  const std::int64_t seq = f.n("seq");
  if (!f.ok()) return invalid_item(item.value(), f.error());
  if (e.rule_id.empty() == e.symbol.empty())
    return invalid_item(item.value(), "names neither or both rule and symbol");
  e.seq = static_cast<std::uint64_t>(std::max<std::int64_t>(seq, 0));
  return e;
}

std::string random_rule_id() {
  std::random_device device;
  std::array<std::uint8_t, 16> bits{};
  for (auto& b : bits) b = static_cast<std::uint8_t>(device());
  return rule_id_from_bits(bits);
}

std::string rule_id_from_bits(const std::array<std::uint8_t, 16>& bits) {
  constexpr std::string_view kAlphabet = "0123456789abcdefghijklmnopqrstuv";
  std::string out;
  unsigned buffer = 0;
  int held = 0;
  for (const std::uint8_t byte : bits) {
    buffer = (buffer << 8) | byte;
    held += 8;
    while (held >= 5) {
      held -= 5;
      out += kAlphabet[(buffer >> held) & 31];
    }
  }
  out += kAlphabet[(buffer << (5 - held)) & 31];  // 128 = 25 * 5 + 3: the last 3 bits, padded
  return out;
}

std::uint32_t shard_for(std::string_view key, std::uint32_t shards) {
  std::uint64_t h = 14695981039346656037ULL;
  for (const char c : key) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 1099511628211ULL;
  }
  return static_cast<std::uint32_t>(h % std::max<std::uint32_t>(shards, 1));
}

// ---- requests ----

dynamodb::UpdateItem fence_request(const std::string& table, std::uint32_t shard,
                                   std::int64_t target_micros) {
  dynamodb::UpdateItem u;
  u.table = table;
  u.key_json = key_json(head_pk(shard), kHeadSortKey);
  u.update_expression = "SET #f = :t";
  u.condition_expression = "attribute_not_exists(#f) OR #f < :t";
  u.names_json = R"({"#f":"fence"})";
  ItemWriter values;
  values.n(":t", target_micros);
  u.values_json = values.str();
  u.return_values = "ALL_NEW";
  u.return_old_on_condition_failure = true;  // a lost race still returns the head: one request either way
  return u;
}

dynamodb::TransactWrite rules_commit_request(const RulesTableSettings& settings, const RulesHead& head,
                                             const std::optional<RuleRecord>& read, const ChangePlan& plan,
                                             std::int64_t effective_from_micros, std::uint32_t quota) {
  const RuleRecord& next = plan.next;
  dynamodb::TransactWrite tx;
  tx.items.emplace_back(head_update(settings.table, head.shard, effective_from_micros));

  dynamodb::PutItem record;
  record.table = settings.table;
  record.item_json = rule_item(next);
  if (read) {
    // Compare-and-swap on the revision: the plan replaces exactly the record it was made on.
    record.condition_expression = "#rev = :rev";
    record.names_json = R"({"#rev":"revision"})";
    ItemWriter values;
    values.n(":rev", static_cast<std::uint64_t>(read->revision));
    record.values_json = values.str();
  } else {
    record.condition_expression = "attribute_not_exists(#pk)";
    record.names_json = R"({"#pk":"pk"})";
  }
  tx.items.emplace_back(std::move(record));

  tx.items.emplace_back(log_put(settings, head.shard, "rule#" + next.id + "#" + std::to_string(next.revision),
                                head, effective_from_micros, next.owner, next.id, ""));

  const bool was_named = read && read->state != RuleState::deleted;
  const bool is_named = next.state != RuleState::deleted;
  const bool renamed = was_named && is_named && read->spec.name != next.spec.name;
  if (is_named && (!was_named || renamed)) {
    dynamodb::PutItem put;
    put.table = settings.table;
    put.item_json = name_item(next.owner, next.spec.name, next.id);
    put.condition_expression = "attribute_not_exists(#pk)";  // the owner's names are unique (R1)
    put.names_json = R"({"#pk":"pk"})";
    tx.items.emplace_back(std::move(put));
  }
  if (was_named && (!is_named || renamed)) {
    dynamodb::DeleteItem del;
    del.table = settings.table;
    del.key_json = key_json(owner_pk(next.owner), concat(kNamePrefix, read->spec.name));
    tx.items.emplace_back(std::move(del));
  }
  if (plan.quota_delta != 0) {
    dynamodb::UpdateItem u;
    u.table = settings.table;
    u.key_json = key_json(owner_pk(next.owner), kQuotaSortKey);
    u.update_expression = "ADD #c :d";
    u.names_json = R"({"#c":"count"})";
    ItemWriter values;
    values.n(":d", std::int64_t{plan.quota_delta});
    if (plan.quota_delta > 0) {
      u.condition_expression = "attribute_not_exists(#c) OR #c < :q";  // holds under concurrent creates
      values.n(":q", static_cast<std::uint64_t>(quota));
    }
    u.values_json = values.str();
    tx.items.emplace_back(std::move(u));
  }
  return tx;
}

dynamodb::TransactWrite controls_commit_request(const RulesTableSettings& settings, const RulesHead& head,
                                                const SymbolControlRecord& next,
                                                std::int64_t effective_from_micros, std::string_view token) {
  dynamodb::TransactWrite tx;
  tx.items.emplace_back(head_update(settings.table, head.shard, effective_from_micros));
  dynamodb::PutItem put;
  put.table = settings.table;
  put.item_json = controls_item(next);
  tx.items.emplace_back(std::move(put));
  tx.items.emplace_back(log_put(settings, head.shard, "symbol#" + next.symbol + "#" + std::string(token),
                                head, effective_from_micros, "", "", next.symbol));
  tx.client_request_token = std::string(token);
  return tx;
}

// ---- the store ----

DynamoDbRulesStore::DynamoDbRulesStore(dynamodb::Client& client, RulesTableSettings settings,
                                       TokenSource tokens)
    : client_(client), settings_(std::move(settings)), tokens_(std::move(tokens)) {}

Result<RulesHead, AwsError> DynamoDbRulesStore::advance_fence(std::uint32_t shard, std::int64_t target_micros,
                                                              Deadline deadline) {
  auto updated = client_.update_item(fence_request(settings_.table, shard, target_micros), deadline);
  std::string item;
  if (updated) {
    item = std::move(updated).value();
  } else if (updated.error().code == kConditionalCheckFailed && !updated.error().item_json.empty()) {
    item = updated.error().item_json;  // the fence is already at or past the target: the head as it is
  } else {
    return updated.error();
  }
  auto h = parse_head_item(shard, item);
  if (!h) return make_aws_error(h.error().code, h.error().message);
  return std::move(h).value();
}

Result<RulesRead, AwsError> DynamoDbRulesStore::scan(std::uint32_t segment, std::uint32_t segments,
                                                     std::int64_t horizon_micros, Deadline deadline) {
  dynamodb::Scan request;
  request.table = settings_.table;
  request.filter_expression = "begins_with(#sk, :rule)";  // records only: fewer bytes on the wire
  request.names_json = R"({"#sk":"sk"})";
  ItemWriter values;
  values.s(":rule", kRulePrefix);
  request.values_json = values.str();
  request.segment = segment;
  request.total_segments = segments;
  RulesRead out;
  do {
    auto page = client_.scan(request, deadline);
    if (!page) return page.error();
    for (const std::string& item : page->items) {
      auto record = parse_rule_item(item);
      if (!record) {
        out.invalid.push_back(record.error().message);
        continue;
      }
      // R4: a record whose every version ended before the horizon applies to no tick still evaluated.
      const bool current = std::any_of(record->versions.begin(), record->versions.end(),
                                       [&](const Rule& v) { return v.window.until_micros > horizon_micros; });
      if (current) out.records.push_back(std::move(record).value());
    }
    request.exclusive_start_key_json = std::move(page->last_evaluated_key_json);
  } while (!request.exclusive_start_key_json.empty());
  return out;
}

namespace {

// Every item of a Query, page after page.
Result<std::vector<std::string>, AwsError> all_items(dynamodb::Client& client, dynamodb::Query query,
                                                     Deadline deadline) {
  std::vector<std::string> items;
  do {
    auto page = client.query(query, deadline);
    if (!page) return page.error();
    items.insert(items.end(), std::make_move_iterator(page->items.begin()),
                 std::make_move_iterator(page->items.end()));
    query.exclusive_start_key_json = std::move(page->last_evaluated_key_json);
  } while (!query.exclusive_start_key_json.empty());
  return items;
}

}  // namespace

Result<std::vector<std::string>, AwsError> DynamoDbRulesStore::query_all(dynamodb::Query query,
                                                                         Deadline deadline) {
  return all_items(client_, std::move(query), deadline);
}

Result<std::vector<ChangeEntry>, AwsError> DynamoDbRulesStore::changes_from(std::uint32_t shard,
                                                                            std::int64_t from_micros,
                                                                            Deadline deadline) {
  dynamodb::Query q;
  q.table = settings_.table;
  q.key_condition = "#pk = :pk AND #sk >= :from";
  q.names_json = R"({"#pk":"pk","#sk":"sk"})";
  ItemWriter values;
  values.s(":pk", log_pk(shard)).s(":from", padded_time(from_micros));
  q.values_json = values.str();
  auto items = query_all(std::move(q), deadline);
  if (!items) return items.error();
  std::vector<ChangeEntry> out;
  for (const std::string& item : items.value()) {
    // A log item we cannot read names no record we could re-read: skipped (its record stays as loaded).
    if (auto e = parse_log_item(item)) out.push_back(std::move(e).value());
  }
  return out;
}

Result<RulesRead, AwsError> DynamoDbRulesStore::records(const std::vector<ChangeEntry>& entries,
                                                        Deadline deadline) {
  RulesRead out;
  dynamodb::BatchGet request;
  auto& spec = request[settings_.table];
  spec.consistent_read = true;
  std::set<std::pair<std::string_view, std::string_view>> seen;
  for (const ChangeEntry& e : entries) {
    if (e.rule_id.empty() || !seen.emplace(e.owner, e.rule_id).second) continue;
    spec.keys_json.push_back(key_json(owner_pk(e.owner), concat(kRulePrefix, e.rule_id)));
  }
  if (spec.keys_json.empty()) return out;
  auto got = client_.batch_get_item(request, deadline);
  if (!got) return got.error();
  for (const std::string& item : got.value()[settings_.table]) {
    auto record = parse_rule_item(item);
    if (record) {
      out.records.push_back(std::move(record).value());
    } else {
      out.invalid.push_back(record.error().message);
    }
  }
  return out;
}

Result<std::vector<SymbolControlRecord>, AwsError> DynamoDbRulesStore::controls(Deadline deadline) {
  dynamodb::Query q;
  q.table = settings_.table;
  q.key_condition = "#pk = :pk";
  q.names_json = R"({"#pk":"pk"})";
  ItemWriter values;
  values.s(":pk", kControlsKey);
  q.values_json = values.str();
  auto items = query_all(std::move(q), deadline);
  if (!items) return items.error();
  std::vector<SymbolControlRecord> out;
  for (const std::string& item : items.value()) {
    if (auto c = parse_controls_item(item)) out.push_back(std::move(c).value());
  }
  return out;
}

Result<RulesHead, AwsError> DynamoDbRulesStore::head(std::uint32_t shard, Deadline deadline) {
  dynamodb::BatchGet request;
  request[settings_.table].keys_json.push_back(key_json(head_pk(shard), kHeadSortKey));
  auto got = client_.batch_get_item(request, deadline);
  if (!got) return got.error();
  const auto& items = got.value()[settings_.table];
  if (items.empty()) return RulesHead{.shard = shard, .seq = 0, .fence_micros = 0};
  auto h = parse_head_item(shard, items.front());
  if (!h) return make_aws_error(h.error().code, h.error().message);
  return std::move(h).value();
}

Result<std::optional<RuleRecord>, AwsError> DynamoDbRulesStore::get(std::string_view owner,
                                                                    std::string_view rule_id,
                                                                    Deadline deadline) {
  dynamodb::BatchGet request;
  request[settings_.table].keys_json.push_back(key_json(owner_pk(owner), concat(kRulePrefix, rule_id)));
  auto got = client_.batch_get_item(request, deadline);
  if (!got) return got.error();
  const auto& items = got.value()[settings_.table];
  if (items.empty()) return std::optional<RuleRecord>();
  auto record = parse_rule_item(items.front());
  if (!record) return make_aws_error(record.error().code, record.error().message);
  return std::optional<RuleRecord>(std::move(record).value());
}

namespace {

// The Query of one owner's rule records (consistent, on the table's key).
dynamodb::Query owner_rules_query(const std::string& table, std::string_view owner) {
  dynamodb::Query q;
  q.table = table;
  q.key_condition = "#pk = :pk AND begins_with(#sk, :rule)";
  q.names_json = R"({"#pk":"pk","#sk":"sk"})";
  ItemWriter values;
  values.s(":pk", owner_pk(owner)).s(":rule", kRulePrefix);
  q.values_json = values.str();
  return q;
}

}  // namespace

Result<std::vector<RuleRecord>, AwsError> DynamoDbRulesStore::list(std::string_view owner,
                                                                   bool include_deleted, Deadline deadline) {
  dynamodb::Query q = owner_rules_query(settings_.table, owner);
  auto items = query_all(std::move(q), deadline);
  if (!items) return items.error();
  std::vector<RuleRecord> out;
  for (const std::string& item : items.value()) {
    auto record = parse_rule_item(item);
    if (record && (include_deleted || record->state != RuleState::deleted)) {
      out.push_back(std::move(record).value());
    }
  }
  return out;
}

Result<RulesStore::Page, AwsError> DynamoDbRulesStore::list_page(std::string_view owner, bool include_deleted,
                                                                 std::uint32_t limit, std::string_view after,
                                                                 Deadline deadline) {
  dynamodb::Query q = owner_rules_query(settings_.table, owner);
  q.limit = limit;
  if (!after.empty()) q.exclusive_start_key_json = key_json(owner_pk(owner), concat(kRulePrefix, after));
  auto page = client_.query(q, deadline);
  if (!page) return page.error();
  Page out;
  for (const std::string& item : page->items) {
    auto record = parse_rule_item(item);
    if (record && (include_deleted || record->state != RuleState::deleted)) {
      out.records.push_back(std::move(record).value());
    }
  }
  // The last key read is where the next page starts: its sort key is "rule#<id>".
  if (!page->last_evaluated_key_json.empty()) {
    auto key = parse_item(page->last_evaluated_key_json);
    if (!key || !key->sk.starts_with(kRulePrefix)) {
      return make_aws_error("invalid_rule_item", "LastEvaluatedKey is not a rule's key");
    }
    out.next = std::string(key->sk.substr(kRulePrefix.size()));
  }
  return out;
}

Result<CommitResult, AwsError> DynamoDbRulesStore::run_commit(dynamodb::TransactWrite tx,
                                                              const RulesHead& head, std::size_t name_put,
                                                              std::size_t quota_update, Deadline deadline) {
  auto written = client_.transact_write_items(tx, deadline);
  CommitResult out;
  if (written) {
    out.head = RulesHead{.shard = head.shard, .seq = head.seq + 1, .fence_micros = head.fence_micros};
    return out;
  }
  const AwsError& error = written.error();
  if (error.code != "TransactionCanceledException") return error;
  // CancellationReasons come in item order: head (0), record (1), log (2), name put, quota.
  std::optional<CommitResult::Status> status;
  for (std::size_t i = 0; i < error.cancellation_reasons.size(); ++i) {
    const std::string& code = error.cancellation_reasons[i].code;
    if (code != "ConditionalCheckFailed") {
      if (code == "None" || code.empty()) continue;
      return error;  // a conflict or a limit, not a condition of ours: the caller's retry policy decides
    }
    CommitResult::Status s = CommitResult::Status::stale;
    if (i == 0) {
      s = CommitResult::Status::fence_passed;
    } else if (i == name_put) {
      s = CommitResult::Status::name_taken;
    } else if (i == quota_update) {
      s = CommitResult::Status::quota_exceeded;
    }
    if (!status || static_cast<int>(s) < static_cast<int>(*status)) status = s;
  }
  if (!status) return error;
  out.status = *status;
  out.head = head;
  if (*status == CommitResult::Status::fence_passed) {
    // The head's old image (ReturnValuesOnConditionCheckFailure): where the fence is now.
    auto now = parse_head_item(head.shard, error.cancellation_reasons[0].item_json);
    if (now) out.head = std::move(now).value();
  }
  return out;
}

Result<CommitResult, AwsError> DynamoDbRulesStore::commit(const RulesHead& head,
                                                          const std::optional<RuleRecord>& read,
                                                          const ChangePlan& plan,
                                                          std::int64_t effective_from_micros,
                                                          std::uint32_t quota, Deadline deadline) {
  dynamodb::TransactWrite tx =
      rules_commit_request(settings_, head, read, plan, effective_from_micros, quota);
  tx.client_request_token = tokens_();
  // Positions of the conditional name put and quota update (see rules_commit_request's order).
  std::size_t name_put = SIZE_MAX;
  std::size_t quota_update = SIZE_MAX;
  for (std::size_t i = 3; i < tx.items.size(); ++i) {
    if (const auto* put = std::get_if<dynamodb::PutItem>(&tx.items[i])) {
      name_put = put->condition_expression.empty() ? name_put : i;
    } else if (const auto* u = std::get_if<dynamodb::UpdateItem>(&tx.items[i])) {
      quota_update = u->condition_expression.empty() ? quota_update : i;
    }
  }
  return run_commit(std::move(tx), head, name_put, quota_update, deadline);
}

Result<CommitResult, AwsError> DynamoDbRulesStore::commit_controls(const RulesHead& head,
                                                                   const SymbolControlRecord& next,
                                                                   std::int64_t effective_from_micros,
                                                                   Deadline deadline) {
  return run_commit(controls_commit_request(settings_, head, next, effective_from_micros, tokens_()), head,
                    SIZE_MAX, SIZE_MAX, deadline);
}

// ---- idempotency records ----

std::string idempotency_item(std::string_view owner, std::string_view key, const IdempotencyRecord& record) {
  ItemWriter w;
  w.s("pk", owner_pk(owner)).s("sk", concat(kIdempotencyPrefix, key)).s("fp", record.fingerprint);
  w.b("done", record.complete).n("status", std::int64_t{record.status});
  w.s("headers", record.headers).s("body", record.body);
  w.n("expires", record.expires_at_micros).n("lease", record.lease_until_micros);
  w.n("ttl", record.expires_at_micros / kMicrosPerSecond);
  return w.str();
}

Result<IdempotencyRecord> parse_idempotency_item(std::string_view item_json) {
  auto item = parse_item(item_json);
  if (!item) return item.error();
  Fields f(item->object);
  IdempotencyRecord r;
  r.fingerprint = std::string(f.s("fp"));
  r.complete = f.opt_bool("done").value_or(false);
  r.status = static_cast<int>(f.n("status"));
  r.headers = std::string(f.s("headers"));
  r.body = std::string(f.s("body"));
  r.expires_at_micros = f.n("expires");
  r.lease_until_micros = f.n("lease");
  if (!f.ok()) return Error{"invalid_idempotency_item", f.error()};
  return r;
}

Result<std::optional<IdempotencyRecord>, AwsError> DynamoDbIdempotency::take(std::string_view owner,
                                                                             std::string_view key,
                                                                             const IdempotencyRecord& taken,
                                                                             std::int64_t now_micros,
                                                                             Deadline deadline) {
  dynamodb::PutItem put;
  put.table = table_;
  put.item_json = idempotency_item(owner, key, taken);
  // Free: absent, expired (DynamoDB's TTL deletes late), or in flight past its lease.
  put.condition_expression =
      "attribute_not_exists(pk) OR #expires <= :now OR (#done = :false AND #lease <= :now)";
  put.names_json = R"({"#expires":"expires","#done":"done","#lease":"lease"})";
  ItemWriter values;
  values.n(":now", now_micros).b(":false", false);
  put.values_json = values.str();
  put.return_old_on_condition_failure = true;
  auto written = client_.put_item(put, deadline);
  if (written) return std::optional<IdempotencyRecord>();
  if (written.error().code != kConditionalCheckFailed) return written.error();
  auto held = parse_idempotency_item(written.error().item_json);
  if (!held) return make_aws_error(held.error().code, held.error().message);
  return std::optional<IdempotencyRecord>(std::move(held).value());
}

Result<bool, AwsError> DynamoDbIdempotency::complete(std::string_view owner, std::string_view key,
                                                     const IdempotencyRecord& done, Deadline deadline) {
  dynamodb::PutItem put;
  put.table = table_;
  put.item_json = idempotency_item(owner, key, done);
  put.condition_expression = "#fp = :fp";  // still the request that took it
  put.names_json = R"({"#fp":"fp"})";
  ItemWriter values;
  values.s(":fp", done.fingerprint);
  put.values_json = values.str();
  auto written = client_.put_item(put, deadline);
  if (!written) return written.error();
  return true;
}

Result<bool, AwsError> DynamoDbIdempotency::release(std::string_view owner, std::string_view key,
                                                    Deadline deadline) {
  dynamodb::UpdateItem u;
  u.table = table_;
  u.key_json = key_json(owner_pk(owner), concat(kIdempotencyPrefix, key));
  u.update_expression = "SET #lease = :zero";
  u.condition_expression = "attribute_exists(pk) AND #done = :false";
  u.names_json = R"({"#lease":"lease","#done":"done"})";
  ItemWriter values;
  values.n(":zero", std::int64_t{0}).b(":false", false);
  u.values_json = values.str();
  auto written = client_.update_item(u, deadline);
  if (!written) return written.error();
  return true;
}

// ---- the API's cursor keys ----

std::string cursor_key_item(const StoredCursorKey& key) {
  ItemWriter w;
  w.s("pk", kCursorKeysKey).s("sk", concat(kCursorKeyPrefix, key.id));
  w.bytes("blob", key.ciphertext).n("ttl", key.expires_at_seconds);
  return w.str();
}

Result<StoredCursorKey> parse_cursor_key_item(std::string_view item_json) {
  auto item = parse_item(item_json);
  if (!item) return item.error();
  if (item->pk != kCursorKeysKey || !item->sk.starts_with(kCursorKeyPrefix)) {
    return invalid_item(item.value(), "not a cursor key item");
  }
  Fields f(item->object);
  StoredCursorKey key{item->sk.substr(kCursorKeyPrefix.size()), f.bytes("blob"), f.n("ttl")};
  if (!f.ok()) return invalid_item(item.value(), f.error());
  return key;
}

DynamoDbCursorKeyStore::DynamoDbCursorKeyStore(dynamodb::Client& client, std::string table)
    : client_(client), table_(std::move(table)) {}

Result<std::vector<StoredCursorKey>, AwsError> DynamoDbCursorKeyStore::list(Deadline deadline) {
  dynamodb::Query q;
  q.table = table_;
  q.key_condition = "#pk = :pk";
  q.names_json = R"({"#pk":"pk"})";
  ItemWriter values;
  values.s(":pk", kCursorKeysKey);
  q.values_json = values.str();
  auto items = all_items(client_, std::move(q), deadline);
  if (!items) return items.error();
  std::vector<StoredCursorKey> out;
  for (const std::string& item : items.value()) {
    // An item we cannot read is no key of ours: its cursors are refused as unknown_key.
    if (auto key = parse_cursor_key_item(item)) out.push_back(std::move(key).value());
  }
  return out;
}

Result<bool, AwsError> DynamoDbCursorKeyStore::add(const StoredCursorKey& key, Deadline deadline) {
  dynamodb::PutItem put;
  put.table = table_;
  put.item_json = cursor_key_item(key);
  put.condition_expression = "attribute_not_exists(#pk)";
  put.names_json = R"({"#pk":"pk"})";
  auto written = client_.put_item(put, deadline);
  if (written) return true;
  if (written.error().code == kConditionalCheckFailed) return false;
  return written.error();
}

}  // namespace tap
