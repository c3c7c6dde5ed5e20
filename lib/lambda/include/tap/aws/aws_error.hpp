// AWS errors and their classification: retryable (throttling, 5xx, network, timeouts) or not.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tap/aws/http_client.hpp"
#include "tap/core/result.hpp"

namespace tap {

// One entry of a DynamoDB TransactionCanceledException, in the order of the transaction's items.
struct CancellationReason {
  std::string code;  // "None", "ConditionalCheckFailed", "TransactionConflict", ...
  std::string message;
  std::string item_json;  // the item's attributes (DynamoDB JSON) when ALL_OLD was requested, else empty
};

struct AwsError {
  std::string code;  // AWS error code ("ThrottlingException") or a transport code (kNetworkError, ...)
  std::string message;
  int http_status = 0;  // 0 for transport errors
  bool retryable = false;
  int attempts = 1;        // how many attempts were made before giving up
  std::string request_id;  // AWS's request id of the failed call, for the logs (empty for transport errors)
  std::string item_json;   // ConditionalCheckFailedException with ReturnValuesOnConditionCheckFailure
  std::vector<CancellationReason> cancellation_reasons;

  [[nodiscard]] Error to_error() const { return Error{code, message}; }
};

AwsError make_aws_error(std::string code, std::string message, int http_status = 0, bool retryable = false);

bool is_throttling_code(std::string_view code);
bool is_transient_code(std::string_view code);  // non-throttling codes worth a retry (timeouts, conflicts)

// A transport failure from HttpClient::send.
AwsError transport_error(const Error& error);

// Error responses of the JSON protocols (DynamoDB, SQS): {"__type":"ns#Code","message":"..."} or the
// x-amzn-ErrorType / x-amzn-query-error headers.
AwsError parse_json_error(const HttpResponse& response);
// Error responses of the query protocol (SNS): <ErrorResponse><Error><Code>..</Code><Message>..</Message>.
AwsError parse_xml_error(const HttpResponse& response);

// Sets `retryable` from the code, the HTTP status and (for transactions) the cancellation reasons.
void classify(AwsError& error);

// Text of the first <tag>...</tag> in an XML document, entities decoded; empty when absent.
std::string xml_text(std::string_view xml, std::string_view tag);

}  // namespace tap
