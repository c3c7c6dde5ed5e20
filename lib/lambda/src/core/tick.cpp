#include "tap/core/tick.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "json_support.hpp"

namespace tap {
namespace {

using simdjson::ondemand::json_type;

struct Context {
  simdjson::ondemand::parser parser;
  json::PaddedBuffer buffer;
  json::KeySet keys;
};

Context& context() {
  thread_local Context ctx;
  return ctx;
}

Error body_error(std::string code, std::string message) { return Error{std::move(code), "body: " + message}; }

Error from_simdjson(simdjson::error_code e) {
  if (e == simdjson::UTF8_ERROR) return body_error("invalid_utf8", "invalid UTF-8");
  return body_error("invalid_json", std::string("invalid JSON (") + simdjson::error_message(e) + ")");
}

// A key from the body, quoted in a reason. Reasons travel as an SQS message attribute, whose characters SQS
// restricts like a body's (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF): control characters and
// U+FFFE / U+FFFF are escaped, and a long key is cut (on a character boundary: the key is valid UTF-8).
std::string quoted_key(std::string_view key) {
  constexpr std::size_t kMaxQuoted = 64;
  std::string out = "\"";
  std::size_t i = 0;
  while (i < key.size() && i < kMaxQuoted) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
      ++i;
      continue;
    }
    const std::size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    const std::string_view ch = key.substr(i, len);
    if (ch == "\xef\xbf\xbe" || ch == "\xef\xbf\xbf") {
      out += ch.back() == '\xbe' ? "\\ufffe" : "\\uffff";
    } else {
      out += ch;
    }
    i += len;
  }
  if (i < key.size()) out += "...";
  out += '"';
  return out;
}

Error from_walk(json::WalkStatus st, simdjson::error_code e, const std::string& detail, std::size_t index) {
  if (st == json::WalkStatus::too_deep) {
    return body_error("too_deep", "nesting deeper than " + std::to_string(kMaxBodyDepth) + " levels");
  }
  if (st == json::WalkStatus::duplicate_key) {
    return body_error("invalid_body",
                      "duplicate key " + quoted_key(detail) + " in tick[" + std::to_string(index) + "]");
  }
  return from_simdjson(e);
}

enum class Field : unsigned { symbol, price, timestamp, volume, bid, ask, seq, other };

Field known_field(std::string_view key) {
  if (key == "symbol") return Field::symbol;
  if (key == "price") return Field::price;
  if (key == "timestamp") return Field::timestamp;
  if (key == "volume") return Field::volume;
  if (key == "bid") return Field::bid;
  if (key == "ask") return Field::ask;
  if (key == "seq") return Field::seq;
  return Field::other;
}

class TickReader {
 public:
  TickReader(std::size_t index, std::size_t depth, ParsedBody& out)
      : index_(index), depth_(depth), out_(out) {}

  // Consumes one array element / the root object. Returns a body-level error, or nothing when the value
  // was consumed (valid tick appended or reject recorded).
  std::optional<Error> read(simdjson::ondemand::value value) {
    json_type type{};
    if (auto e = value.type().get(type)) return from_simdjson(e);
    if (type != json_type::object) {
      if (auto err = walk(value, depth_)) return err;
      out_.rejects.push_back({index_, prefix() + ": must be an object"});
      return std::nullopt;
    }
    simdjson::ondemand::object object;
    if (auto e = value.get_object().get(object)) return from_simdjson(e);
    auto& keys = context().keys;
    keys.clear();
    Tick tick;
    bool has_symbol = false, has_price = false, has_ts = false;
    unsigned seen = 0;  // bit per known field
    for (auto result : object) {
      // Fields and values are used in place (by reference): copying a simdjson result that was just built
      // field by field costs a store-forwarding stall (~10 % of the whole parse).
      if (auto e = result.error()) return from_simdjson(e);
      simdjson::ondemand::field& field = result.value_unsafe();
      std::string_view key;
      if (auto e = json::key_of(field).get(key)) return from_simdjson(e);
      // The seven known fields are told apart by one comparison chain, their duplicates by a bit each; only
      // other keys go into the key set.
      const Field known = known_field(key);
      const unsigned bit = 1U << static_cast<unsigned>(known);
      if (known == Field::other ? !keys.insert(key) : (seen & bit) != 0) {
        return from_walk(json::WalkStatus::duplicate_key, {}, std::string(key), index_);
      }
      seen |= bit;
      if (auto err = read_field(known, field.value(), tick, has_symbol, has_price, has_ts)) return err;
    }
    if (!has_symbol && !had_problem("symbol")) problem("symbol", "required");
    if (!has_price && !had_problem("price")) problem("price", "required");
    if (!has_ts && !had_problem("timestamp")) problem("timestamp", "required");
    if (problems_.empty()) {
      out_.ticks.push_back(std::move(tick));
    } else {
      out_.rejects.push_back({index_, std::move(problems_)});
    }
    return std::nullopt;
  }

 private:
  std::optional<Error> read_field(Field field, simdjson::ondemand::value& v, Tick& tick, bool& has_symbol,
                                  bool& has_price, bool& has_ts) {
    switch (field) {
      case Field::symbol:
        return read_symbol(v, tick.symbol, has_symbol);
      case Field::price:
        return read_positive(v, "price", tick.price, has_price);
      case Field::timestamp:
        return read_timestamp(v, tick.ts, has_ts);
      case Field::volume:
        return read_count(v, "volume", tick.volume);
      case Field::seq: {
        std::optional<std::uint64_t> seq;
        auto err = read_count(v, "seq", seq);
        tick.seq = seq.value_or(0);  // absent or invalid: 0 (an invalid one rejects the tick anyway)
        return err;
      }
      case Field::bid:
      case Field::ask: {
        std::optional<double>& target = field == Field::bid ? tick.bid : tick.ask;
        double d = 0;
        bool has = false;
        auto err = read_positive(v, field == Field::bid ? "bid" : "ask", d, has);
        if (has) target = d;
        return err;
      }
      case Field::other:
        break;
    }
    return walk(v, depth_ + 1);
  }

  std::string prefix() const { return "tick[" + std::to_string(index_) + "]"; }

  void problem(std::string_view field, std::string_view why) {
    if (!problems_.empty()) problems_ += "; ";
    problems_ += prefix();
    problems_ += '.';
    problems_ += field;
    problems_ += ": ";
    problems_ += why;
    failed_fields_.emplace_back(field);
  }
  bool had_problem(std::string_view field) const {
    for (const auto& f : failed_fields_) {
      if (f == field) return true;
    }
    return false;
  }

  std::optional<Error> walk(simdjson::ondemand::value v, std::size_t depth) {
    simdjson::error_code e{};
    std::string detail;
    const json::WalkStatus st = json::walk_value(v, depth, kMaxBodyDepth, e, detail);
    if (st != json::WalkStatus::ok) return from_walk(st, e, detail, index_);
    return std::nullopt;
  }

  // A value of the wrong JSON type: still validated as JSON, then reported.
  std::optional<Error> wrong_type(simdjson::ondemand::value v, std::string_view field, std::string_view why) {
    if (auto err = walk(v, depth_ + 1)) return err;
    problem(field, why);
    return std::nullopt;
  }

  std::optional<Error> read_symbol(simdjson::ondemand::value v, std::string& symbol, bool& has) {
    static constexpr std::string_view kWhy = "must be a string of 1..16 chars A-Z 0-9 . - / :";
    json_type type{};
    if (auto e = v.type().get(type)) return from_simdjson(e);
    if (type != json_type::string) return wrong_type(v, "symbol", kWhy);
    std::string_view s;
    if (auto e = v.get_string().get(s)) return from_simdjson(e);
    if (!is_valid_symbol(s)) {
      problem("symbol", kWhy);
    } else {
      symbol.assign(s);
      has = true;
    }
    return std::nullopt;
  }

  std::optional<Error> read_positive(simdjson::ondemand::value v, std::string_view field, double& out,
                                     bool& has) {
    static constexpr std::string_view kWhy = "must be a finite number > 0";
    json_type type{};
    if (auto e = v.type().get(type)) return from_simdjson(e);
    if (type != json_type::number) return wrong_type(v, field, kWhy);
    double d = 0;
    if (auto e = v.get_double().get(d)) {
      if (e != simdjson::NUMBER_ERROR) return from_simdjson(e);
      problem(field, kWhy);  // valid JSON, but beyond the range of a double
      return std::nullopt;
    }
    if (!std::isfinite(d) || !(d > 0)) {
      problem(field, kWhy);
    } else if (d < kMinStorableNumber || d >= kMaxStorableNumberExclusive) {
      problem(field, "outside the storable range 1e-130 .. 1e126 (exclusive)");
    } else {
      out = d;
      has = true;
    }
    return std::nullopt;
  }

  std::optional<Error> read_timestamp(simdjson::ondemand::value v, Timestamp& ts, bool& has) {
    json_type type{};
    if (auto e = v.type().get(type)) return from_simdjson(e);
    if (type != json_type::string) return wrong_type(v, "timestamp", "must be an ISO-8601 string");
    std::string_view s;
    if (auto e = v.get_string().get(s)) return from_simdjson(e);
    auto parsed = parse_timestamp(s);
    if (!parsed) {
      problem("timestamp", parsed.error().message);
    } else {
      ts = std::move(parsed).value();
      has = true;
    }
    return std::nullopt;
  }

  // `volume` and `seq`: an integer in [0, 2^64-1] written as one (no fraction, no exponent). Inlined at
  // both call sites: called out of line, it cost ~5 % of a tick's parse (BM_ParseTickBodies25).
  [[gnu::always_inline]] std::optional<Error> read_count(simdjson::ondemand::value v, std::string_view field,
                                                         std::optional<std::uint64_t>& count) {
    static constexpr std::string_view kWhy = "must be an integer >= 0 (at most 2^64-1)";
    json_type type{};
    if (auto e = v.type().get(type)) return from_simdjson(e);
    if (type != json_type::number) return wrong_type(v, field, kWhy);
    simdjson::ondemand::number n;
    if (auto e = v.get_number().get(n)) {
      if (e != simdjson::NUMBER_ERROR) return from_simdjson(e);
      problem(field, kWhy);
      return std::nullopt;
    }
    switch (n.get_number_type()) {
      case simdjson::ondemand::number_type::unsigned_integer:
        count = n.get_uint64();
        break;
      case simdjson::ondemand::number_type::signed_integer:
        if (n.get_int64() >= 0) {
          count = static_cast<std::uint64_t>(n.get_int64());
        } else {
          problem(field, kWhy);
        }
        break;
      case simdjson::ondemand::number_type::floating_point_number:
        problem(field, kWhy);
        break;
    }
    return std::nullopt;
  }

  std::size_t index_;
  std::size_t depth_;
  ParsedBody& out_;
  std::string problems_;
  std::vector<std::string_view> failed_fields_;
};

}  // namespace

bool is_valid_symbol(std::string_view symbol) {
  if (symbol.empty() || symbol.size() > kMaxSymbolLength) return false;
  for (const char c : symbol) {
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '/' || c == ':';
    if (!ok) return false;
  }
  return true;
}

static_assert(kJsonPadding == simdjson::SIMDJSON_PADDING);
constexpr std::size_t kReservedTicks = 32;

Result<ParsedBody> parse_ticks(std::string_view body, std::size_t padding) {
  if (body.size() > kMaxBodyBytes) {
    return body_error("body_too_large",
                      std::to_string(body.size()) + " bytes exceeds " + std::to_string(kMaxBodyBytes));
  }
  Context& ctx = context();
  if (padding < kJsonPadding) {
    body = ctx.buffer.load(body);
    padding = ctx.buffer.capacity() - body.size();
  }
  simdjson::ondemand::document doc;
  if (auto e = ctx.parser.iterate(body.data(), body.size(), body.size() + padding).get(doc)) {
    return from_simdjson(e);
  }
  json_type type{};
  if (auto e = doc.type().get(type)) return from_simdjson(e);
  ParsedBody out;
  if (type == json_type::object) {
    simdjson::ondemand::value root;
    if (auto e = doc.get_value().get(root)) return from_simdjson(e);
    if (auto err = TickReader(0, 1, out).read(root)) return *err;
  } else if (type == json_type::array) {
    simdjson::ondemand::array array;
    if (auto e = doc.get_array().get(array)) return from_simdjson(e);
    // A tick takes at least ~60 bytes of JSON: room for as many as the body can hold (capped) saves the
    // vector's regrowth.
    out.ticks.reserve(std::min<std::size_t>(body.size() / 60 + 1, kReservedTicks));
    std::size_t index = 0;
    for (auto element : array) {
      if (auto e = element.error()) return from_simdjson(e);
      simdjson::ondemand::value& v = element.value_unsafe();
      if (auto err = TickReader(index, 2, out).read(v)) return *err;
      ++index;
    }
    if (index == 0) return body_error("invalid_body", "empty array (no ticks)");
  } else {
    return body_error("invalid_body", "must be a tick object or an array of ticks");
  }
  // Anything after the top-level value is invalid JSON.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return body_error("invalid_json", "invalid JSON (content after the top-level value)");
  }
  return out;
}

}  // namespace tap
