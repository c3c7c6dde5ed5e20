#include "tap/core/sqs_event.hpp"

#include <charconv>
#include <cstring>

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
      target = &rec.body;
      has_body = true;
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
