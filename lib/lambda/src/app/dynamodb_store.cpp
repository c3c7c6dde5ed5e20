#include "tap/app/dynamodb_store.hpp"

#include <simdjson.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <optional>
#include <random>

#include "tap/core/base64.hpp"
#include "tap/core/json_text.hpp"
#include "tap/core/timestamp.hpp"

namespace tap {
namespace {

constexpr std::string_view kConditionalCheckFailed = "ConditionalCheckFailedException";

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

// ---- the state item's binary attributes ----

constexpr std::uint8_t kCodecVersion = 1;
constexpr std::uint8_t kFlagCrossing = 1;
constexpr std::uint8_t kFlagStored = 2;
constexpr std::uint8_t kFlagOnce = 4;        // an arming follows
constexpr std::uint8_t kFlagReachNever = 8;  // reach_until is "never" (else its delta to the tick follows)
// Its notification is not confirmed (F5). Set for "not notified" so that an item written before the flag
// existed reads as notified: those fires were completed by the recovery of their time.
constexpr std::uint8_t kFlagUnconfirmed = 16;
// The fire is unvouched (FireRecord::unvouched): kept in the state so that a pending fire's alert carries it.
constexpr std::uint8_t kFlagUnvouched = 32;
constexpr std::uint8_t kFlagsKnown =
    kFlagCrossing | kFlagStored | kFlagOnce | kFlagReachNever | kFlagUnconfirmed | kFlagUnvouched;

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}
// Deltas wrap (two's complement) so that any int64 pair round-trips.
void put_ts(std::string& out, std::int64_t ts, std::int64_t& prev) {
  put_varint(out, zigzag(static_cast<std::int64_t>(static_cast<std::uint64_t>(ts) -
                                                   static_cast<std::uint64_t>(prev))));
  prev = ts;
}
void put_price(std::string& out, double price) {
  const auto bits = std::bit_cast<std::uint64_t>(price);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0;; shift += 7) {  // ends by shift 63: its byte may hold one bit, no continuation
      if (pos_ >= bytes_.size()) return false;
      const auto b = static_cast<std::uint8_t>(bytes_[pos_++]);
      if (shift == 63 && b > 1) return false;  // beyond 64 bits
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
  }
  bool ts(std::int64_t& prev) {
    std::uint64_t v = 0;
    if (!varint(v)) return false;
    prev =
        static_cast<std::int64_t>(static_cast<std::uint64_t>(prev) + static_cast<std::uint64_t>(unzigzag(v)));
    return true;
  }
  bool byte(std::uint8_t& b) {
    if (pos_ >= bytes_.size()) return false;
    b = static_cast<std::uint8_t>(bytes_[pos_++]);
    return true;
  }
  bool price(double& p) {
    if (bytes_.size() - pos_ < 8) return false;
    std::uint64_t bits = 0;
    for (int i = 0; i < 8; ++i)
      bits |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(bytes_[pos_++])) << (8 * i);
    p = std::bit_cast<double>(bits);
    return true;
  }
  bool text(std::string& s, std::uint64_t n) {
    if (bytes_.size() - pos_ < n) return false;
    s.assign(bytes_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == bytes_.size(); }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

std::string encode_ticks(const std::vector<HeldTick>& ticks) {
  std::string out;
  out.reserve(2 + ticks.size() * 12);
  out.push_back(static_cast<char>(kCodecVersion));
  put_varint(out, ticks.size());
  std::int64_t prev = 0;
  for (const HeldTick& t : ticks) {
    put_ts(out, t.pos.ts_micros, prev);
    put_varint(out, t.pos.seq);
    put_price(out, t.price);
  }
  return out;
}

std::string encode_fires(const std::vector<FireRecord>& fires) {
  std::vector<std::string_view> ids;
  std::vector<std::size_t> index_of(fires.size());
  for (std::size_t i = 0; i < fires.size(); ++i) {
    const auto found = std::find(ids.begin(), ids.end(), std::string_view(fires[i].rule_id));
    index_of[i] = static_cast<std::size_t>(found - ids.begin());
    if (found == ids.end()) ids.emplace_back(fires[i].rule_id);
  }
  std::string out;
  out.push_back(static_cast<char>(kCodecVersion));
  put_varint(out, ids.size());
  for (const std::string_view id : ids) {
    put_varint(out, id.size());
    out += id;
  }
  put_varint(out, fires.size());
  std::int64_t prev = 0;
  for (std::size_t i = 0; i < fires.size(); ++i) {
    const FireRecord& f = fires[i];
    put_varint(out, index_of[i]);
    put_varint(out, f.version);
    put_ts(out, f.tick.ts_micros, prev);
    put_varint(out, f.tick.seq);
    const bool never = f.reach_until_micros == INT64_MAX;
    out.push_back(static_cast<char>((f.crossing ? kFlagCrossing : 0) | (f.stored ? kFlagStored : 0) |
                                    (f.once_arming ? kFlagOnce : 0) | (never ? kFlagReachNever : 0) |
                                    (f.notified ? 0 : kFlagUnconfirmed) |
                                    (f.unvouched ? kFlagUnvouched : 0)));
    if (!never) {
      std::int64_t from_tick = f.tick.ts_micros;
      put_ts(out, f.reach_until_micros, from_tick);
    }
    if (f.once_arming) put_varint(out, *f.once_arming);
  }
  return out;
}

Error malformed(std::string_view what) { return Error{"invalid_state", "state item: " + std::string(what)}; }

Result<std::vector<HeldTick>> decode_ticks(std::string_view bytes) {
  Reader r(bytes);
  std::uint8_t version = 0;
  std::uint64_t count = 0;
  if (!r.byte(version) || version != kCodecVersion) return malformed("ticks: unknown format");
  if (!r.varint(count) || count > bytes.size()) return malformed("ticks: bad count");
  std::vector<HeldTick> ticks(count);
  std::int64_t prev = 0;
  for (std::size_t i = 0; i < count; ++i) {
    HeldTick& t = ticks[i];
    if (!r.ts(prev) || !r.varint(t.pos.seq) || !r.price(t.price)) return malformed("ticks: truncated");
    t.pos.ts_micros = prev;
    if (!(std::isfinite(t.price) && t.price > 0)) return malformed("ticks: price not finite and > 0");
    if (i > 0 && !(ticks[i - 1].pos < t.pos)) return malformed("ticks: positions out of order");
  }
  if (!r.done()) return malformed("ticks: trailing bytes");
  return ticks;
}

Result<std::vector<FireRecord>> decode_fires(std::string_view bytes) {
  Reader r(bytes);
  std::uint8_t version = 0;
  std::uint64_t id_count = 0;
  if (!r.byte(version) || version != kCodecVersion) return malformed("fires: unknown format");
  if (!r.varint(id_count) || id_count > bytes.size()) return malformed("fires: bad rule id count");
  std::vector<std::string> ids(id_count);
  for (std::string& id : ids) {
    std::uint64_t n = 0;
    if (!r.varint(n) || !r.text(id, n)) return malformed("fires: truncated rule id");
  }
  std::uint64_t count = 0;
  if (!r.varint(count) || count > bytes.size()) return malformed("fires: bad count");
  std::vector<FireRecord> fires(count);
  std::int64_t prev = 0;
  for (FireRecord& f : fires) {
    std::uint64_t id = 0;
    std::uint64_t version_number = 0;
    std::uint8_t flags = 0;
    if (!r.varint(id) || !r.varint(version_number) || !r.ts(prev) || !r.varint(f.tick.seq) ||
        !r.byte(flags)) {
      return malformed("fires: truncated");
    }
    if (id >= ids.size() || version_number > UINT32_MAX || (flags & ~kFlagsKnown) != 0) {
      return malformed("fires: bad record");
    }
    f.reach_until_micros = prev;
    std::uint64_t arming = 0;
    if (((flags & kFlagReachNever) == 0 && !r.ts(f.reach_until_micros)) ||
        ((flags & kFlagOnce) != 0 && !r.varint(arming))) {
      return malformed("fires: truncated");
    }
    if (arming > UINT32_MAX) return malformed("fires: bad record");
    if ((flags & kFlagReachNever) != 0) f.reach_until_micros = INT64_MAX;
    if ((flags & kFlagOnce) != 0) f.once_arming = static_cast<std::uint32_t>(arming);
    f.rule_id = ids[id];
    f.version = static_cast<std::uint32_t>(version_number);
    f.tick.ts_micros = prev;
    f.crossing = (flags & kFlagCrossing) != 0;
    f.stored = (flags & kFlagStored) != 0;
    f.notified = (flags & kFlagUnconfirmed) == 0;
    f.unvouched = (flags & kFlagUnvouched) != 0;
  }
  if (!r.done()) return malformed("fires: trailing bytes");
  return fires;
}

void append_b(std::string& out, std::string_view name, std::string_view bytes) {
  out += '"';
  out += name;
  out += R"(":{"B":")";
  base64::append(out, bytes);
  out += R"("})";
}

// DynamoDB's size of a number attribute: about one byte per two significant digits, plus one.
std::size_t number_bytes(std::string_view digits) { return (digits.size() + 1) / 2 + 1; }

std::string key_json(std::string_view pk, std::string_view sk) {
  std::string out = R"({"symbol":{"S":)";
  json::append_string(out, pk);
  out += R"(},"rule_id":{"S":)";
  json::append_string(out, sk);
  out += "}}";
  return out;
}

// A symbol's state item as read: its symbol and its state, or why the state cannot be decoded.
struct ReadStateItem {
  std::string symbol;
  Result<SymbolState> state = Error{};
};

ReadStateItem read_state_item(std::string_view item_json) {
  ReadStateItem out;
  simdjson::ondemand::parser parser;
  const simdjson::padded_string padded(item_json);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(object) != simdjson::SUCCESS) {
    out.state = malformed("not a JSON object");
    return out;
  }
  SymbolState state;
  state.exists = true;
  std::optional<std::string> ticks;
  std::optional<std::string> fires;
  bool revision = false;
  std::optional<Error> problem;
  for (auto field : object) {
    std::string_view name;
    simdjson::ondemand::value value;
    if (field.unescaped_key().get(name) != simdjson::SUCCESS ||
        field.value().get(value) != simdjson::SUCCESS) {
      out.state = malformed("not valid JSON");
      return out;
    }
    std::string_view text;
    if (name == "symbol") {
      if (value["S"].get_string().get(text) == simdjson::SUCCESS) out.symbol = text;
    } else if (name == "revision" || name == "fires_complete_from" || name == "ticks_trimmed") {
      const std::string key(name);
      auto n = number_attribute(value, key);
      if (!n) {
        problem = malformed(n.error().message);
      } else if (name == "revision") {
        revision = n.value() >= 0;
        state.revision = static_cast<std::uint64_t>(n.value());
      } else if (name == "ticks_trimmed") {
        if (n.value() != 1) problem = malformed("ticks_trimmed: must be 1 when present");
        state.ticks_trimmed = true;
      } else {
        state.fires_complete_from = n.value();
      }
    } else if (name == "ticks" || name == "fires") {
      std::optional<std::string> bytes;
      if (value["B"].get_string().get(text) == simdjson::SUCCESS) bytes = base64::decode(text);
      if (!bytes) problem = malformed(std::string(name) + ": expected a binary attribute");
      (name == "ticks" ? ticks : fires) = std::move(bytes);
    }
  }
  if (problem) {
    out.state = *problem;
  } else if (!revision || !ticks || !fires) {
    out.state = malformed("revision, ticks and fires are required");
  } else {
    auto held = decode_ticks(*ticks);
    auto log = decode_fires(*fires);
    if (!held) {
      out.state = held.error();
    } else if (!log) {
      out.state = log.error();
    } else {
      state.ticks = std::move(held).value();
      state.fires = std::move(log).value();
      out.state = std::move(state);
    }
  }
  return out;
}

// Which items of a cancelled commit refused their condition (reasons come in item order: the state, the
// alerts, the markers).
struct Refusals {
  bool state = false;
  std::vector<std::size_t> alerts;
  std::vector<std::size_t> markers;
  bool other = false;  // a reason that is no condition of ours (the error stands)
};
Refusals read_refusals(const AwsError& error, std::size_t alerts) {
  constexpr std::size_t first_alert = 1;
  Refusals out;
  if (error.code != "TransactionCanceledException" || error.cancellation_reasons.empty()) {
    out.other = true;
    return out;
  }
  for (std::size_t i = 0; i < error.cancellation_reasons.size(); ++i) {
    const std::string& code = error.cancellation_reasons[i].code;
    if (code == "None" || code.empty()) continue;
    const bool refused = code == "ConditionalCheckFailed";
    if (i < first_alert) {
      if (refused || code == "TransactionConflict") {
        out.state = true;
      } else {
        out.other = true;
      }
    } else if (!refused) {
      out.other = true;
    } else if (i < first_alert + alerts) {
      out.alerts.push_back(i - first_alert);
    } else {
      out.markers.push_back(i - first_alert - alerts);
    }
  }
  return out;
}

dynamodb::PutItem put_if_absent(const std::string& table, std::string item) {
  dynamodb::PutItem put;
  put.table = table;
  put.item_json = std::move(item);
  put.condition_expression = "attribute_not_exists(#k)";
  put.names_json = R"({"#k":"symbol"})";
  return put;
}

// Whether an alert item (DynamoDB JSON) still waits for its notification. An item that cannot be read is
// taken as pending: a later batch asks again, where taking it as notified would lose the notification.
bool notification_pending(std::string_view item_json) {
  simdjson::ondemand::parser parser;
  const simdjson::padded_string padded(item_json);
  simdjson::ondemand::document doc;
  std::string_view state;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS ||
      doc["notification_state"]["S"].get_string().get(state) != simdjson::SUCCESS) {
    return true;
  }
  return state == "pending";
}

}  // namespace

Result<PendingAlert> parse_pending_alert(std::string_view attributes_json) {
  const auto invalid = [](std::string_view what) {
    return Error{"invalid_alert", "alert item: " + std::string(what)};
  };
  simdjson::ondemand::parser parser;
  const simdjson::padded_string padded(attributes_json);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(object) != simdjson::SUCCESS) {
    return invalid("not an object");
  }
  PendingAlert out;
  bool has_symbol = false;
  bool has_price = false;
  bool has_ts = false;
  for (auto field : object) {
    std::string_view name;
    simdjson::ondemand::object value;
    if (field.unescaped_key().get(name) != simdjson::SUCCESS ||
        field.value().get_object().get(value) != simdjson::SUCCESS) {
      return invalid("malformed attribute");
    }
    if (name == "unvouched") {  // {"BOOL": true} (written only when true)
      if (value["BOOL"].get_bool().get(out.unvouched) != simdjson::SUCCESS) {
        return invalid("unvouched: unexpected value");
      }
      continue;
    }
    // The other attributes read here are {"S": text} or {"N": text}; the rest (rule_version, ...) are
    // skipped.
    std::string_view type = "N";
    std::string_view text;
    if (value["N"].get_string().get(text) != simdjson::SUCCESS) {
      type = "S";
      if (value["S"].get_string().get(text) != simdjson::SUCCESS) continue;
    }
    const auto number = [&]<typename T>(std::optional<T>& into) {
      T v = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (type != "N" || ec != std::errc{} || end != text.data() + text.size()) return false;
      into = v;
      return true;
    };
    const auto time = [&](std::int64_t& into) {
      auto ts = parse_timestamp(text);
      if (type != "S" || !ts) return false;
      into = ts->micros;
      return true;
    };
    bool ok = true;
    if (name == "symbol") {
      ok = type == "S";
      out.tick.symbol = std::string(text);
      has_symbol = true;
    } else if (name == "price") {
      std::optional<double> price;
      ok = number(price);
      out.tick.price = price.value_or(0);
      has_price = true;
    } else if (name == "bid") {
      ok = number(out.tick.bid);
    } else if (name == "ask") {
      ok = number(out.tick.ask);
    } else if (name == "volume") {
      ok = number(out.tick.volume);
    } else if (name == "tick_timestamp") {
      ok = time(out.tick.ts.micros);
      has_ts = true;
    } else if (name == "message_id") {
      ok = type == "S";
      out.message_id = std::string(text);
    }
    if (!ok) return invalid(std::string(name) + ": unexpected value");
  }
  if (!has_symbol || !has_price || !has_ts) return invalid("symbol, price or tick_timestamp missing");
  return out;
}

std::string alert_item(const AlertRecord& record, std::string_view stored_id) {
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
  attr_n("rule_version", static_cast<std::uint64_t>(r.version));
  // The by-owner index's keys (A4). A key attribute cannot be empty: an alert of a rule without owner (a
  // file-seeded one) has no owner attribute and stays out of the index.
  if (!r.owner.empty()) attr_s("owner", r.owner);
  attr_s("stored_id", stored_id);
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
  if (record.publish_by_micros != 0) attr_s("publish_by", format_timestamp(record.publish_by_micros));
  attr_s("notification_state", "pending");                             // until mark_sent sets "sent"
  if (record.alert.unvouched) out += R"(,"unvouched":{"BOOL":true})";  // written only when true
  out += '}';
  return out;
}

std::string state_item(std::string_view symbol, const SymbolState& state) {
  std::string out = "{";
  append_s(out, "symbol", symbol);
  out += ',';
  append_s(out, "rule_id", kStateSortKey);
  out += ',';
  append_n(out, "revision", state.revision);
  out += ',';
  append_b(out, "ticks", encode_ticks(state.ticks));
  out += ',';
  append_b(out, "fires", encode_fires(state.fires));
  if (state.fires_complete_from != INT64_MIN) {
    out += ',';
    append_n(out, "fires_complete_from", state.fires_complete_from);
  }
  if (state.ticks_trimmed) {
    out += ',';
    append_n(out, "ticks_trimmed", std::int64_t{1});
  }
  return out + '}';
}

Result<SymbolState> parse_symbol_state(std::string_view item_json) {
  return std::move(read_state_item(item_json).state);
}

std::size_t state_item_bytes(std::string_view symbol, const SymbolState& state) {
  std::string digits;
  json::append_number(digits, state.revision);
  std::size_t n = 6 + symbol.size() + 7 + kStateSortKey.size() + 8 + number_bytes(digits) + 5 +
                  encode_ticks(state.ticks).size() + 5 + encode_fires(state.fires).size();
  if (state.fires_complete_from != INT64_MIN) {
    digits.clear();
    json::append_number(digits, state.fires_complete_from);
    n += 19 + number_bytes(digits);
  }
  if (state.ticks_trimmed) n += 13 + number_bytes("1");
  return n;
}

std::string marker_key_json(const std::string& rule_id, std::uint32_t arming) {
  return key_json("#once#" + rule_id, "#arming#" + std::to_string(arming));
}

std::string marker_item(const OnceMarker& marker, std::int64_t created_at_micros) {
  std::string out = marker_key_json(marker.rule_id, marker.arming);
  out.pop_back();  // reopen the key object: the item is the key plus its attributes
  out += ',';
  append_s(out, "rule", marker.rule_id);
  out += ',';
  append_n(out, "arming", static_cast<std::uint64_t>(marker.arming));
  out += ',';
  append_s(out, "alert_symbol", marker.alert.symbol);
  out += ',';
  append_s(out, "alert_key", alert_sort_key(marker.alert));
  out += ',';
  append_s(out, "created_at", format_timestamp(created_at_micros));
  return out + '}';
}

dynamodb::PutItem state_put_request(const std::string& state_table, std::string_view symbol,
                                    const SymbolState& read, const SymbolState& next) {
  dynamodb::PutItem put;
  put.table = state_table;
  put.item_json = state_item(symbol, next);
  put.names_json = R"({"#rev":"revision"})";
  if (read.exists) {
    // Compare-and-swap on the revision: the plan replaces exactly the state it was made on.
    put.condition_expression = "#rev = :rev";
    put.values_json = "{";
    append_n(put.values_json, ":rev", read.revision);
    put.values_json += '}';
  } else {
    put.condition_expression = "attribute_not_exists(#rev)";
  }
  // A refusal hands back the state stored now: the re-plan needs no read.
  put.return_old_on_condition_failure = true;
  return put;
}

dynamodb::TransactWrite commit_request(const std::string& state_table, const std::string& alerts_table,
                                       std::string_view symbol, const SymbolState& read,
                                       const SymbolState& next, std::span<const AlertRecord> alerts,
                                       std::span<const OnceMarker> markers, std::int64_t now_micros,
                                       UlidGenerator& stored_ids) {
  dynamodb::TransactWrite tx;
  tx.items.emplace_back(state_put_request(state_table, symbol, read, next));
  for (const AlertRecord& a : alerts) {
    // Taken at store: a redelivery's put is refused (put_if_absent), so the first store's id stays.
    const std::string id = to_string(stored_ids.next(now_micros / 1000));
    tx.items.emplace_back(put_if_absent(alerts_table, alert_item(a, id)));
  }
  for (const OnceMarker& m : markers) {
    tx.items.emplace_back(put_if_absent(state_table, marker_item(m, now_micros)));
  }
  return tx;
}

DynamoDbSymbolStore::DynamoDbSymbolStore(dynamodb::Client& client, std::string state_table,
                                         std::string alerts_table, std::function<std::int64_t()> now_micros,
                                         TokenSource tokens)
    : client_(client),
      state_table_(std::move(state_table)),
      alerts_table_(std::move(alerts_table)),
      now_micros_(std::move(now_micros)),
      tokens_(std::move(tokens)),
      stored_ids_([random = std::mt19937_64(std::random_device{}())]() mutable { return random(); }) {}

Result<bool, AwsError> DynamoDbOnceMarkers::marker_exists(std::string_view rule_id, std::uint32_t arming,
                                                          Deadline deadline) {
  dynamodb::BatchGet request;
  auto& spec = request[state_table_];
  spec.consistent_read = true;
  spec.keys_json.push_back(marker_key_json(std::string(rule_id), arming));
  auto got = client_.batch_get_item(request, deadline);
  if (!got) return got.error();
  return !got.value()[state_table_].empty();
}

Result<LoadedStates, AwsError> DynamoDbSymbolStore::load(std::span<const std::string> symbols,
                                                         Deadline deadline) {
  LoadedStates out;
  if (symbols.empty()) return out;
  dynamodb::BatchGet request;
  auto& spec = request[state_table_];
  spec.consistent_read = true;
  for (const std::string& s : symbols) {
    out[s];
    spec.keys_json.push_back(key_json(s, kStateSortKey));
  }
  // The client sends 100 keys per request and re-sends UnprocessedKeys until done (dynamodb.hpp).
  auto got = client_.batch_get_item(request, deadline);
  if (!got) return got.error();
  for (const std::string& item : got.value()[state_table_]) {
    ReadStateItem read = read_state_item(item);
    const auto found = out.find(read.symbol);
    if (found == out.end()) continue;  // not asked for (a key DynamoDB cannot return): ignored
    if (read.state) {
      found->second.state = std::move(read.state).value();
    } else {
      found->second.error = read.state.error();
    }
  }
  return out;
}

Result<WriteOutcome, AwsError> DynamoDbSymbolStore::commit(std::string_view symbol, const SymbolState& read,
                                                           const SymbolState& next,
                                                           std::span<const AlertRecord> alerts,
                                                           std::span<const OnceMarker> markers,
                                                           Deadline deadline) {
  if (alerts.empty() && markers.empty()) return commit_state(symbol, read, next, deadline);
  dynamodb::TransactWrite tx;
  {
    // Commits of different symbols run concurrently: the ULIDs stay monotonic and the token source is
    // asked by one at a time.
    const std::scoped_lock lock(ids_mutex_);
    tx = commit_request(state_table_, alerts_table_, symbol, read, next, alerts, markers, now_micros_(),
                        stored_ids_);
    tx.client_request_token = tokens_();
  }
  auto written = client_.transact_write_items(tx, deadline);
  if (written) {
    WriteOutcome applied;
    applied.bytes_written = state_item_bytes(symbol, next);
    return applied;
  }
  const Refusals refused = read_refusals(written.error(), alerts.size());
  if (refused.other) return written.error();
  if (!refused.state) {
    WriteOutcome out;
    out.status = WriteOutcome::Status::refused;
    out.alerts_existing = refused.alerts;
    out.markers_taken = refused.markers;
    return out;
  }
  return conflict(symbol, written.error().cancellation_reasons[0].item_json, deadline);
}

// The state alone: one conditional PutItem, no transaction and no ClientRequestToken. A retry of a put whose
// answer was lost (the retry policy re-sends on a network error or 5xx) meets the put's own write as a
// revision conflict and hands it back: the handler re-plans on it, where the ticks are held already
// (docs/design.md, section 5.5).
Result<WriteOutcome, AwsError> DynamoDbSymbolStore::commit_state(std::string_view symbol,
                                                                 const SymbolState& read,
                                                                 const SymbolState& next, Deadline deadline) {
  auto put = client_.put_item(state_put_request(state_table_, symbol, read, next), deadline);
  if (put) {
    WriteOutcome applied;
    applied.bytes_written = state_item_bytes(symbol, next);
    return applied;
  }
  if (put.error().code != kConditionalCheckFailed) return put.error();
  return conflict(symbol, put.error().item_json, deadline);
}

Result<WriteOutcome, AwsError> DynamoDbSymbolStore::conflict(std::string_view symbol,
                                                             const std::string& old_item, Deadline deadline) {
  WriteOutcome out;
  out.status = WriteOutcome::Status::conflict;
  if (old_item.empty()) {
    // No image (a TransactionConflict, or an item deleted since the read): read what is stored now.
    const std::string symbols[] = {std::string(symbol)};
    auto loaded = load(symbols, deadline);
    if (!loaded) return loaded.error();
    LoadedState& now = loaded->begin()->second;
    if (now.error) return make_aws_error(now.error->code, now.error->message);
    out.current = std::move(now.state);
    return out;
  }
  auto current = parse_symbol_state(old_item);
  if (!current) return make_aws_error(current.error().code, current.error().message);
  out.current = std::move(current).value();
  return out;
}

DynamoDbAlertLedger::DynamoDbAlertLedger(dynamodb::Client& client, std::string alerts_table)
    : client_(client), table_(std::move(alerts_table)) {}

Result<ClaimOutcome, AwsError> DynamoDbAlertLedger::claim(const AlertId& id, const RecoveryClaim& claim,
                                                          Deadline deadline) {
  // One conditional write, so that two recoverers never both hold the claim; its ALL_NEW image is what the
  // notification is built from (the function has no read permission on the table). Timestamps are
  // normalised, fixed-width text: they compare as the instants they name.
  dynamodb::UpdateItem u;
  u.table = table_;
  u.key_json = alert_key_json(id);
  u.update_expression = "SET #cb = :me, #cu = :until";
  u.condition_expression = "#ns = :pending AND (attribute_not_exists(#cb) OR #cb = :me OR #cu < :now)";
  u.names_json = R"({"#ns":"notification_state","#cb":"claimed_by","#cu":"claim_until")";
  if (!claim.storer_ended) {
    // The storer's implicit claim: it may publish until publish_by (absent: written before it existed).
    u.condition_expression += " AND (attribute_not_exists(#pb) OR #pb < :now)";
    u.names_json += R"(,"#pb":"publish_by")";
  }
  u.names_json += '}';
  u.values_json = R"({":pending":{"S":"pending"},)";
  append_s(u.values_json, ":me", claim.claimant);
  u.values_json += ',';
  append_s(u.values_json, ":now", format_timestamp(claim.now_micros));
  u.values_json += ',';
  append_s(u.values_json, ":until", format_timestamp(claim.until_micros));
  u.values_json += '}';
  u.return_values = "ALL_NEW";
  u.return_old_on_condition_failure = true;
  auto updated = client_.update_item(u, deadline);
  if (!updated) {
    if (updated.error().code != kConditionalCheckFailed) return updated.error();
    // ALL_OLD: no image when the alert does not exist.
    const std::string& old = updated.error().item_json;
    ClaimOutcome refused;
    if (!old.empty() && notification_pending(old)) {
      refused.status = ClaimOutcome::Status::held;
      if (auto stored = parse_pending_alert(old)) refused.alert = std::move(stored).value();
    }
    return refused;
  }
  auto alert = parse_pending_alert(updated.value());
  if (!alert) return make_aws_error(alert.error().code, alert.error().message);
  return ClaimOutcome{.status = ClaimOutcome::Status::claimed, .alert = std::move(alert).value()};
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

// ---- the API's reads: an owner's fired alerts through the by-owner index ----

namespace {

// The key attributes of an item in the by-owner index: the index's and the table's (LastEvaluatedKey).
constexpr std::string_view kPositionNames[] = {"owner", "stored_id", "symbol", "timestamp"};

std::optional<std::string_view> s_attribute(simdjson::dom::object item, std::string_view name) {
  std::string_view text;
  if (item[name]["S"].get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
  return text;
}

AlertPosition item_position(simdjson::dom::object item) {
  AlertPosition out;
  for (const std::string_view name : kPositionNames) {
    out.emplace_back(name, s_attribute(item, name).value_or(""));
  }
  return out;
}

std::string position_key_json(const AlertPosition& position) {
  std::string out = "{";
  for (const auto& [name, value] : position) {
    if (out.size() > 1) out += ',';
    append_s(out, name, value);
  }
  return out + '}';
}

// `after` must be a position this adapter made for `owner`: exactly the four key names, the owner's own.
bool valid_position(const AlertPosition& after, std::string_view owner) {
  if (after.size() != std::size(kPositionNames)) return false;
  for (const std::string_view name : kPositionNames) {
    const auto it = std::find_if(after.begin(), after.end(), [&](const auto& f) { return f.first == name; });
    if (it == after.end()) return false;
    if (name == "owner" && it->second != owner) return false;
    if (name == "stored_id" && !parse_ulid(it->second)) return false;
  }
  return true;
}

simdjson::dom::parser& alert_parser() {
  static thread_local simdjson::dom::parser parser;
  return parser;
}

Result<FiredAlert> read_fired_alert(simdjson::dom::object item) {
  const auto invalid = [](std::string_view what) {
    return Error{"invalid_alert", "alert item: " + std::string(what)};
  };
  FiredAlert out;
  const auto text = [&](std::string_view name, std::string& into) {
    const auto v = s_attribute(item, name);
    if (v) into = std::string(*v);
    return v.has_value();
  };
  const auto number = [&]<typename T>(std::string_view name, T& into) {
    std::string_view digits;
    if (item[name]["N"].get_string().get(digits) != simdjson::SUCCESS) return false;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), into);
    return ec == std::errc{} && end == digits.data() + digits.size();
  };
  const auto optional_number = [&]<typename T>(std::string_view name, std::optional<T>& into) {
    simdjson::dom::element attribute;
    if (item[name].get(attribute) != simdjson::SUCCESS) return true;  // absent
    T v{};
    if (!number(name, v)) return false;
    into = v;
    return true;
  };
  std::string tick_time;
  std::string state;
  if (!text("owner", out.owner) || !text("stored_id", out.stored_id) || !text("rule_id", out.rule_id) ||
      !number("rule_version", out.rule_version) || !text("symbol", out.tick.symbol) ||
      !number("price", out.tick.price) || !text("tick_timestamp", tick_time) ||
      !text("severity", out.severity)) {
    return invalid(
        "owner, stored_id, rule_id, rule_version, symbol, price, tick_timestamp or severity missing");
  }
  if (!optional_number("bid", out.tick.bid) || !optional_number("ask", out.tick.ask) ||
      !optional_number("volume", out.tick.volume)) {
    return invalid("bid, ask or volume not a number");
  }
  const auto ts = parse_timestamp(tick_time);
  if (!ts) return invalid("tick_timestamp: " + ts.error().message);
  out.tick.ts = ts.value();
  out.notified = text("notification_state", state) && state == "sent";
  std::string notified_at;
  if (text("notified_at", notified_at)) {
    const auto at = parse_timestamp(notified_at);
    if (!at) return invalid("notified_at: " + at.error().message);
    out.notified_at_micros = at->micros;
  }
  simdjson::dom::element unvouched;
  if (item["unvouched"].get(unvouched) == simdjson::SUCCESS &&
      unvouched["BOOL"].get_bool().get(out.unvouched) != simdjson::SUCCESS) {
    return invalid("unvouched: not a BOOL");
  }
  return out;
}

}  // namespace

Result<FiredAlert> parse_fired_alert(std::string_view item_json) {
  simdjson::dom::object item;
  if (alert_parser().parse(item_json.data(), item_json.size()).get(item) != simdjson::SUCCESS) {
    return Error{"invalid_alert", "alert item: not an object"};
  }
  return read_fired_alert(item);
}

Result<dynamodb::Query> alert_log_query(const std::string& alerts_table, const AlertQuery& query) {
  if (!query.after.empty() && !valid_position(query.after, query.owner)) {
    return Error{"invalid_position", "not a position of this owner's alerts"};
  }
  dynamodb::Query q;
  q.table = alerts_table;
  q.index_name = std::string(kByOwnerIndex);
  q.consistent_read = false;  // an index reads eventually consistently (docs/design.md, section 13)
  q.limit = query.limit;
  q.key_condition = "#o = :o AND #sid < :before";
  std::string names = R"({"#o":"owner","#sid":"stored_id")";
  std::string values = "{";
  append_s(values, ":o", query.owner);
  values += ',';
  // The smallest ULID of the bound's millisecond: every id stored earlier sorts below it.
  const auto millis = std::clamp<std::int64_t>(query.stored_before_micros / 1000, 0,
                                               static_cast<std::int64_t>(kMaxUlidMillis));
  append_s(values, ":before", to_string(Ulid{static_cast<std::uint64_t>(millis), 0, 0}));
  std::vector<std::string> filters;
  const auto filter = [&](std::string_view condition, std::string_view name_key, std::string_view name,
                          std::string_view value_key, std::string_view value) {
    filters.emplace_back(condition);
    if (names.find(name_key) == std::string::npos) {
      names += ",\"" + std::string(name_key) + "\":\"" + std::string(name) + "\"";
    }
    values += ',';
    append_s(values, value_key, value);
  };
  if (query.symbol) filter("#sym = :sym", "#sym", "symbol", ":sym", *query.symbol);
  if (query.rule_id) filter("#rid = :rid", "#rid", "rule_id", ":rid", *query.rule_id);
  if (query.tick_from_micros) {
    filter("#tt >= :from", "#tt", "tick_timestamp", ":from", format_timestamp(*query.tick_from_micros));
  }
  if (query.tick_until_micros) {
    filter("#tt < :until", "#tt", "tick_timestamp", ":until", format_timestamp(*query.tick_until_micros));
  }
  for (std::size_t i = 0; i < filters.size(); ++i) {
    q.filter_expression += (i > 0 ? " AND " : "") + filters[i];
  }
  q.names_json = names + "}";
  q.values_json = values + "}";
  if (!query.after.empty()) q.exclusive_start_key_json = position_key_json(query.after);
  return q;
}

DynamoDbAlertLog::DynamoDbAlertLog(dynamodb::Client& client, std::string alerts_table)
    : client_(client), table_(std::move(alerts_table)) {}

Result<AlertPage, AwsError> DynamoDbAlertLog::list(const AlertQuery& query, Deadline deadline) {
  auto request = alert_log_query(table_, query);
  if (!request) return make_aws_error(request.error().code, request.error().message);
  auto page = client_.query(request.value(), deadline);
  if (!page) return page.error();
  AlertPage out;
  out.position = query.after;
  for (const std::string& item_json : page->items) {
    simdjson::dom::object item;
    // DynamoDB sends items as objects; an alert item that cannot be read (written by hand, say) is passed
    // over like one the filters refused: listing goes on, and the position moves past it.
    if (alert_parser().parse(item_json.data(), item_json.size()).get(item) != simdjson::SUCCESS) continue;
    out.position = item_position(item);
    if (auto alert = read_fired_alert(item)) out.alerts.push_back(std::move(alert).value());
  }
  if (!page->last_evaluated_key_json.empty()) {
    simdjson::dom::object key;
    if (alert_parser().parse(page->last_evaluated_key_json).get(key) != simdjson::SUCCESS) {
      return make_aws_error("InvalidResponse", "LastEvaluatedKey is not an object");
    }
    out.position = item_position(key);
    out.more = true;
  }
  return out;
}

}  // namespace tap
