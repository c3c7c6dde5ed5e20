#include "tap/aws/aws_error.hpp"

#include <algorithm>
#include <array>

#include "json.hpp"

namespace tap {
namespace {

// botocore's standard retry mode lists, plus KMS throttling (SNS/SQS/DynamoDB with a CMK surface it) and
// DynamoDB's TransactionConflictException (a single-item write that collided with a transaction in flight:
// AWS documents it as safe to retry).
constexpr std::array<std::string_view, 16> kThrottling = {"Throttling",
                                                          "ThrottlingException",
                                                          "ThrottledException",
                                                          "RequestThrottledException",
                                                          "TooManyRequestsException",
                                                          "ProvisionedThroughputExceededException",
                                                          "TransactionInProgressException",
                                                          "RequestLimitExceeded",
                                                          "BandwidthLimitExceeded",
                                                          "LimitExceededException",
                                                          "RequestThrottled",
                                                          "SlowDown",
                                                          "PriorRequestNotComplete",
                                                          "EC2ThrottledException",
                                                          "KMSThrottlingException",
                                                          "ThrottlingError"};
constexpr std::array<std::string_view, 6> kTransient = {
    "RequestTimeout",      "RequestTimeoutException", "TransactionConflictException",
    "TransactionConflict", "InternalServerError",     "ServiceUnavailable"};

bool contains(const auto& list, std::string_view code) {
  return std::find(list.begin(), list.end(), code) != list.end();
}

// "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException" -> the part after '#'; the header form
// "Code:http://internal.amazon.com/..." -> the part before ':'.
std::string short_code(std::string_view type) {
  if (auto hash = type.rfind('#'); hash != std::string_view::npos) type = type.substr(hash + 1);
  if (auto colon = type.find(':'); colon != std::string_view::npos) type = type.substr(0, colon);
  return std::string(type);
}

std::string decode_entities(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '&') {
      static constexpr std::array<std::pair<std::string_view, char>, 5> kEntities = {
          {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}}};
      bool replaced = false;
      for (const auto& [entity, ch] : kEntities) {
        if (s.substr(i).starts_with(entity)) {
          out.push_back(ch);
          i += entity.size() - 1;
          replaced = true;
          break;
        }
      }
      if (replaced) continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

void parse_cancellation_reasons(simdjson::ondemand::array reasons, AwsError& error) {
  for (auto element : reasons) {
    CancellationReason reason;
    simdjson::ondemand::object obj;
    if (element.get_object().get(obj) != simdjson::SUCCESS) continue;
    for (auto field : obj) {
      std::string_view key;
      if (field.unescaped_key().get(key) != simdjson::SUCCESS) break;
      std::string_view text;
      if (key == "Code" && field.value().get_string().get(text) == simdjson::SUCCESS) {
        reason.code = std::string(text);
      } else if (key == "Message" && field.value().get_string().get(text) == simdjson::SUCCESS) {
        reason.message = std::string(text);
      } else if (key == "Item") {
        simdjson::ondemand::object item;
        if (field.value().get_object().get(item) == simdjson::SUCCESS &&
            item.raw_json().get(text) == simdjson::SUCCESS) {
          reason.item_json = std::string(text);
        }
      }
    }
    error.cancellation_reasons.push_back(std::move(reason));
  }
}

}  // namespace

AwsError make_aws_error(std::string code, std::string message, int http_status, bool retryable) {
  AwsError error;
  error.code = std::move(code);
  error.message = std::move(message);
  error.http_status = http_status;
  error.retryable = retryable;
  return error;
}

bool is_throttling_code(std::string_view code) { return contains(kThrottling, code); }
bool is_transient_code(std::string_view code) { return contains(kTransient, code); }

AwsError transport_error(const Error& error) {
  AwsError out = make_aws_error(error.code, error.message);
  classify(out);
  return out;
}

std::string header_request_id(const HttpResponse& response) {
  for (const char* name : {"x-amzn-RequestId", "x-amz-request-id"}) {
    if (const std::string* id = response.header(name)) return *id;
  }
  return "";
}

AwsError parse_json_error(const HttpResponse& response) {
  // Some front ends (and moto's signature/IAM checks) answer a JSON-protocol request with an XML error.
  if (response.body.starts_with("<")) return parse_xml_error(response);
  AwsError error;
  error.http_status = response.status;
  if (const std::string* type = response.header("x-amzn-ErrorType")) error.code = short_code(*type);
  simdjson::padded_string body(response.body);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  if (aws_json::parser().iterate(body).get(doc) == simdjson::SUCCESS &&
      doc.get_object().get(obj) == simdjson::SUCCESS) {
    for (auto field : obj) {
      std::string_view key;
      if (field.unescaped_key().get(key) != simdjson::SUCCESS) break;
      std::string_view text;
      if ((key == "__type" || key == "code") && field.value().get_string().get(text) == simdjson::SUCCESS) {
        error.code = short_code(text);
      } else if ((key == "message" || key == "Message") &&
                 field.value().get_string().get(text) == simdjson::SUCCESS) {
        error.message = std::string(text);
      } else if (key == "Item") {
        simdjson::ondemand::object item;
        if (field.value().get_object().get(item) == simdjson::SUCCESS &&
            item.raw_json().get(text) == simdjson::SUCCESS) {
          error.item_json = std::string(text);
        }
      } else if (key == "CancellationReasons") {
        simdjson::ondemand::array reasons;
        if (field.value().get_array().get(reasons) == simdjson::SUCCESS)
          parse_cancellation_reasons(reasons, error);
      }
    }
  }
  // SQS's JSON protocol names the query-protocol code in a header ("AWS.SimpleQueueService.X;Sender").
  if (const std::string* query_error = response.header("x-amzn-query-error")) {
    error.code = query_error->substr(0, query_error->find(';'));
  }
  if (error.code.empty()) error.code = "HttpStatus" + std::to_string(response.status);
  if (error.message.empty()) error.message = "HTTP " + std::to_string(response.status);
  error.request_id = header_request_id(response);
  classify(error);
  return error;
}

std::string xml_text(std::string_view xml, std::string_view tag) {
  // Appended piecewise: `"<" + std::string(tag) + ">"` trips GCC 12's false -Wrestrict at -O3 (PR 105329).
  std::string open(1, '<');
  open.append(tag).push_back('>');
  std::string close("</");
  close.append(tag).push_back('>');
  const std::size_t start = xml.find(open);
  if (start == std::string_view::npos) return "";
  const std::size_t end = xml.find(close, start + open.size());
  if (end == std::string_view::npos) return "";
  return decode_entities(xml.substr(start + open.size(), end - start - open.size()));
}

AwsError parse_xml_error(const HttpResponse& response) {
  AwsError error;
  error.http_status = response.status;
  error.code = xml_text(response.body, "Code");
  error.message = xml_text(response.body, "Message");
  error.request_id = xml_text(response.body, "RequestId");
  if (error.request_id.empty()) error.request_id = header_request_id(response);
  if (error.code.empty()) error.code = "HttpStatus" + std::to_string(response.status);
  if (error.message.empty()) error.message = "HTTP " + std::to_string(response.status);
  classify(error);
  return error;
}

void classify(AwsError& error) {
  if (error.code == kNetworkError || error.code == kNetworkTimeout) {
    error.retryable = true;
  } else if (error.code == "TransactionCanceledException") {
    // Retry only when nothing failed for good: conflicts/throttling yes, a failed condition never.
    bool transient = false;
    bool permanent = false;
    for (const auto& reason : error.cancellation_reasons) {
      if (reason.code == "None" || reason.code.empty()) continue;
      if (is_throttling_code(reason.code) || is_transient_code(reason.code) ||
          reason.code == "ProvisionedThroughputExceeded") {
        transient = true;
      } else {
        permanent = true;
      }
    }
    error.retryable = transient && !permanent;
  } else {
    error.retryable = is_throttling_code(error.code) || is_transient_code(error.code) ||
                      (error.http_status >= 500 && error.http_status <= 599);
  }
}

}  // namespace tap
