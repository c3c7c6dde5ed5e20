#include "tap/core/sqs_event.hpp"

#include <charconv>
#include <cstring>
#include <optional>
#include <string>

#include "json_support.hpp"
#include "tap/core/tick.hpp"

namespace tap {
namespace {

using simdjson::ondemand::json_type;

Error event_error(std::string message) { return Error{"invalid_event", std::move(message)}; }

std::string record_path(std::size_t i) { return "Records[" + std::to_string(i) + "]"; }

// Where a problem is; the path string is only built for an error (this runs for every record).
struct Where {
  std::size_t index;
  std::string_view field;  // "" for the record itself
  std::string path() const { return record_path(index) + (field.empty() ? "" : ".") + std::string(field); }
};

Error json_error(const std::string& where, simdjson::error_code e) {
  return event_error(where + ": " + simdjson::error_message(e));
}
Error json_error(const Where& where, simdjson::error_code e) { return json_error(where.path(), e); }

// A string field, unescaped into the parser's buffer (take_text moves it into the event).
std::optional<Error> read_string(simdjson::ondemand::value v, const Where& where, std::string_view& out) {
  if (auto e = v.get_string().get(out)) return json_error(where, e);
  return std::nullopt;
}

unsigned hex_value(char c) {
  if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<unsigned>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<unsigned>(c - 'A' + 10);
  return 16;  // not a hex digit
}

// The hex digits (0..4) after the "\u" at escaped[i], and the code unit they spell when there are 4.
std::size_t hex_digits_at(std::string_view escaped, std::size_t i, unsigned& unit) {
  std::size_t n = 0;
  unit = 0;
  while (n < 4 && i + 2 + n < escaped.size() && hex_value(escaped[i + 2 + n]) < 16) {
    unit = unit * 16 + hex_value(escaped[i + 2 + n]);
    ++n;
  }
  return n;
}

bool is_low_surrogate(unsigned unit) { return unit >= 0xdc00 && unit <= 0xdfff; }

// Which escape of a JSON string's raw text cannot be decoded (the rules of simdjson's unescaping: the
// escapes of RFC 8259, a high surrogate only with a low one right after it, no lone low surrogate), and
// where. The text quoted is ASCII only (the reason travels as an SQS message attribute).
std::string undecodable_escape(std::string_view escaped) {
  std::string found;
  std::size_t at = 0;
  for (std::size_t i = escaped.find('\\'); found.empty() && i != std::string_view::npos;
       i = escaped.find('\\', i)) {
    at = i;
    const auto kind = static_cast<unsigned char>(escaped[i + 1]);  // a string never ends in a backslash
    unsigned unit = 0;
    if (kind != 'u') {
      if (std::string_view("\"\\/bfnrt").find(static_cast<char>(kind)) == std::string_view::npos) {
        found = kind >= 0x20 && kind < 0x7f ? "invalid escape \\" + std::string(1, static_cast<char>(kind))
                                            : "invalid escape: a backslash before a non-ASCII character";
      }
      i += 2;
    } else if (const std::size_t n = hex_digits_at(escaped, i, unit); n < 4) {
      found = "invalid escape " + std::string(escaped.substr(i, 2 + n)) + " (\\u needs 4 hex digits)";
    } else if (is_low_surrogate(unit)) {
      found = "lone low surrogate " + std::string(escaped.substr(i, 6));
    } else if (unit >= 0xd800 && unit < 0xdc00) {
      unsigned low = 0;
      if (escaped.substr(i + 6, 2) != "\\u" || hex_digits_at(escaped, i + 6, low) < 4 ||
          !is_low_surrogate(low)) {
        found = "lone high surrogate " + std::string(escaped.substr(i, 6));
      }
      i += 12;
    } else {
      i += 6;
    }
  }
  return found + " at byte " + std::to_string(at) + " of the escaped body";
}

// The body: unescaped into the parser's buffer, or, if the event's string cannot be decoded, its escaped
// text (a view into the event's input) and the reason (see sqs_event.hpp).
std::optional<Error> read_body(simdjson::ondemand::value v, const Where& where, SqsRecord& rec) {
  const std::string_view token = v.raw_json_token();  // quote, text, quote, maybe spaces (not consumed)
  const simdjson::error_code e = v.get_string().get(rec.body);
  if (e != simdjson::STRING_ERROR) return e ? std::optional(json_error(where, e)) : std::nullopt;
  rec.body = token.substr(1, token.rfind('"') - 1);
  rec.body_error = "body: cannot be decoded from the SQS event (" + undecodable_escape(rec.body) +
                   "); the dead letter carries the escaped body";
  return std::nullopt;
}

// SQS sends numeric attributes as decimal strings.
template <typename Int>
std::optional<Error> read_decimal_string(simdjson::ondemand::value v, const Where& where, Int& out) {
  std::string_view s;
  if (auto e = v.get_string().get(s)) return json_error(where, e);
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) {
    return event_error(where.path() + ": not a decimal integer: \"" + std::string(s) + "\"");
  }
  return std::nullopt;
}

std::optional<Error> read_attributes(simdjson::ondemand::value v, SqsRecord& rec, std::size_t index) {
  const Where where{index, "attributes"};
  simdjson::ondemand::object attrs;
  if (auto e = v.get_object().get(attrs)) return json_error(where, e);
  for (auto result : attrs) {
    if (auto e = result.error()) return json_error(where, e);
    simdjson::ondemand::field& field = result.value_unsafe();  // in place: see tick.cpp
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return json_error(where, e);
    simdjson::ondemand::value& fv = field.value();
    if (key == "ApproximateReceiveCount") {
      if (auto err =
              read_decimal_string(fv, {index, "attributes.ApproximateReceiveCount"}, rec.receive_count)) {
        return err;
      }
    } else if (key == "SentTimestamp") {
      if (auto err = read_decimal_string(fv, {index, "attributes.SentTimestamp"}, rec.sent_timestamp_ms)) {
        return err;
      }
    }
  }
  return std::nullopt;
}

std::optional<Error> read_record(simdjson::ondemand::value v, std::size_t index, SqsRecord& rec) {
  const Where where{index, ""};
  simdjson::ondemand::object obj;
  if (auto e = v.get_object().get(obj)) return json_error(where, e);
  bool has_id = false, has_body = false;
  for (auto result : obj) {
    if (auto e = result.error()) return json_error(where, e);
    simdjson::ondemand::field& field = result.value_unsafe();  // in place: see tick.cpp
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return json_error(where, e);
    simdjson::ondemand::value& fv = field.value();
    std::string_view* target = nullptr;
    if (key == "messageId") {
      target = &rec.message_id;
      has_id = true;
    } else if (key == "receiptHandle") {
      target = &rec.receipt_handle;
    } else if (key == "body") {
      has_body = true;
      if (auto err = read_body(fv, {index, key}, rec)) return err;
    } else if (key == "eventSourceARN") {
      target = &rec.event_source_arn;
    } else if (key == "awsRegion") {
      target = &rec.aws_region;
    } else if (key == "attributes") {
      if (auto err = read_attributes(fv, rec, index)) return err;
    }
    if (target != nullptr) {
      if (auto err = read_string(fv, {index, key}, *target)) return err;
    }
  }
  if (!has_id) return event_error(where.path() + ".messageId: missing");
  if (rec.message_id.empty()) return event_error(where.path() + ".messageId: empty");
  if (!has_body) return event_error(where.path() + ".body: missing");
  return std::nullopt;
}

// Moves the records' strings (views into the parser's buffer, valid only until its next document) into one
// buffer the event owns, each body followed by kJsonPadding zero bytes (see sqs_event.hpp).
void take_text(SqsEvent& event) {
  std::size_t total = 0;
  for (const SqsRecord& r : event.records) {
    total += r.message_id.size() + r.receipt_handle.size() + r.body.size() + kJsonPadding +
             r.event_source_arn.size() + r.aws_region.size();
  }
  event.text = std::make_unique_for_overwrite<char[]>(total);
  char* out = event.text.get();
  const auto take = [&out](std::string_view& s, std::size_t padding) {
    if (!s.empty()) std::memcpy(out, s.data(), s.size());
    std::memset(out + s.size(), 0, padding);
    s = {out, s.size()};
    out += s.size() + padding;
  };
  for (SqsRecord& r : event.records) {
    take(r.message_id, 0);
    take(r.receipt_handle, 0);
    take(r.body, kJsonPadding);
    take(r.event_source_arn, 0);
    take(r.aws_region, 0);
  }
}

}  // namespace

Result<ParsedBody> parse_record_ticks(const SqsRecord& record) {
  if (!record.body_error.empty()) return Error{"undecodable_body", record.body_error};
  return parse_ticks(record.body, kJsonPadding);
}

Result<SqsEvent> parse_sqs_event(std::string_view json) {
  thread_local simdjson::ondemand::parser parser;
  thread_local json::PaddedBuffer buffer;
  buffer.load(json);
  simdjson::ondemand::document doc;
  if (auto e = parser.iterate(buffer.data(), buffer.size(), buffer.capacity()).get(doc)) {
    return json_error("event", e);
  }
  simdjson::ondemand::object root;
  if (auto e = doc.get_object().get(root)) return json_error("event", e);
  SqsEvent event;
  bool has_records = false;
  for (auto result : root) {
    if (auto e = result.error()) return json_error("event", e);
    simdjson::ondemand::field& field = result.value_unsafe();  // in place: see tick.cpp
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return json_error("event", e);
    simdjson::ondemand::value& fv = field.value();
    if (key != "Records") continue;
    has_records = true;
    simdjson::ondemand::array records;
    if (auto e = fv.get_array().get(records)) return json_error("Records", e);
    std::size_t index = 0;
    for (auto element : records) {
      if (auto e = element.error()) return json_error(record_path(index), e);
      simdjson::ondemand::value& rv = element.value_unsafe();
      SqsRecord rec;
      if (auto err = read_record(rv, index, rec)) return *err;
      event.records.push_back(std::move(rec));
      ++index;
    }
  }
  if (!has_records) return event_error("Records: missing");
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return event_error("event: content after the top-level object");
  }
  take_text(event);
  return event;
}

}  // namespace tap
