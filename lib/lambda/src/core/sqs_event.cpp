#include "tap/sqs_event.hpp"

#include <charconv>

#include "json_support.hpp"

namespace tap {
namespace {

using simdjson::ondemand::json_type;

Error event_error(std::string message) { return Error{"invalid_event", std::move(message)}; }

Error json_error(const std::string& where, simdjson::error_code e) {
  return event_error(where + ": " + simdjson::error_message(e));
}

std::string record_path(std::size_t i) { return "Records[" + std::to_string(i) + "]"; }

// A string field, copied (unescaped).
Result<std::string> read_string(simdjson::ondemand::value v, const std::string& where) {
  std::string_view s;
  if (auto e = v.get_string().get(s)) return json_error(where, e);
  return std::string(s);
}

// SQS sends numeric attributes as decimal strings.
template <typename Int>
Result<Int> read_decimal_string(simdjson::ondemand::value v, const std::string& where) {
  std::string_view s;
  if (auto e = v.get_string().get(s)) return json_error(where, e);
  Int out{};
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) {
    return event_error(where + ": not a decimal integer: \"" + std::string(s) + "\"");
  }
  return out;
}

std::optional<Error> read_attributes(simdjson::ondemand::value v, SqsRecord& rec, const std::string& path) {
  simdjson::ondemand::object attrs;
  if (auto e = v.get_object().get(attrs)) return json_error(path + ".attributes", e);
  for (auto field : attrs) {
    std::string_view key;
    simdjson::ondemand::value fv;
    if (auto e = field.unescaped_key().get(key)) return json_error(path + ".attributes", e);
    if (auto e = field.value().get(fv)) return json_error(path + ".attributes", e);
    if (key == "ApproximateReceiveCount") {
      auto r = read_decimal_string<std::uint32_t>(fv, path + ".attributes.ApproximateReceiveCount");
      if (!r) return r.error();
      rec.receive_count = r.value();
    } else if (key == "SentTimestamp") {
      auto r = read_decimal_string<std::int64_t>(fv, path + ".attributes.SentTimestamp");
      if (!r) return r.error();
      rec.sent_timestamp_ms = r.value();
    }
  }
  return std::nullopt;
}

std::optional<Error> read_record(simdjson::ondemand::value v, std::size_t index, SqsRecord& rec) {
  const std::string path = record_path(index);
  simdjson::ondemand::object obj;
  if (auto e = v.get_object().get(obj)) return json_error(path, e);
  bool has_id = false, has_body = false;
  for (auto field : obj) {
    std::string_view key;
    simdjson::ondemand::value fv;
    if (auto e = field.unescaped_key().get(key)) return json_error(path, e);
    if (auto e = field.value().get(fv)) return json_error(path, e);
    std::string* target = nullptr;
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
      if (auto err = read_attributes(fv, rec, path)) return err;
    }
    if (target != nullptr) {
      auto s = read_string(fv, path + "." + std::string(key));
      if (!s) return s.error();
      *target = std::move(s).value();
    }
  }
  if (!has_id) return event_error(path + ".messageId: missing");
  if (rec.message_id.empty()) return event_error(path + ".messageId: empty");
  if (!has_body) return event_error(path + ".body: missing");
  return std::nullopt;
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
  for (auto field : root) {
    std::string_view key;
    simdjson::ondemand::value fv;
    if (auto e = field.unescaped_key().get(key)) return json_error("event", e);
    if (auto e = field.value().get(fv)) return json_error("event", e);
    if (key != "Records") continue;
    has_records = true;
    simdjson::ondemand::array records;
    if (auto e = fv.get_array().get(records)) return json_error("Records", e);
    std::size_t index = 0;
    for (auto element : records) {
      simdjson::ondemand::value rv;
      if (auto e = element.get(rv)) return json_error(record_path(index), e);
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
  return event;
}

}  // namespace tap
