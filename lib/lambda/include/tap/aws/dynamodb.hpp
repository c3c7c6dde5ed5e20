// DynamoDB over its JSON 1.0 protocol (X-Amz-Target DynamoDB_20120810.*): the calls the handler makes.
// Keys, items and expression values are DynamoDB-JSON text, e.g. {"symbol":{"S":"AAPL"}}; the store adapter
// (app/dynamodb_store.hpp) renders them. Request rendering and response parsing are pure functions, tested
// on their own.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "tap/aws/aws_client.hpp"

namespace tap::dynamodb {

struct UpdateItem {
  std::string table;
  std::string key_json;  // {"symbol":{"S":"AAPL"},"rule_id":{"S":"r1"}}
  std::string update_expression;
  std::string condition_expression;  // empty: unconditional
  std::string names_json;            // ExpressionAttributeNames object, empty: none
  std::string values_json;           // ExpressionAttributeValues object, empty: none
  std::string return_values;         // "NONE" (empty), "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW"
  bool return_old_on_condition_failure = false;  // ReturnValuesOnConditionCheckFailure=ALL_OLD
};

struct PutItem {
  std::string table;
  std::string item_json;
  std::string condition_expression;
  std::string names_json;
  std::string values_json;
  bool return_old_on_condition_failure = false;
};

using TransactItem = std::variant<PutItem, UpdateItem>;

struct TransactWrite {
  std::vector<TransactItem> items;   // at most 100
  std::string client_request_token;  // idempotency token (makes a retry after a lost response safe)
};

struct KeysAndOptions {
  std::vector<std::string> keys_json;
  bool consistent_read = true;
};
using BatchGet = std::map<std::string, KeysAndOptions>;         // by table
using Items = std::map<std::string, std::vector<std::string>>;  // by table, each item's DynamoDB JSON

// Rendering (the JSON bodies).
std::string render(const UpdateItem& request);
std::string render(const PutItem& request);
std::string render(const TransactWrite& request);
std::string render(const BatchGet& request);

// Parsing: the "Attributes" object of an UpdateItem/PutItem response (empty when absent).
Result<std::string> parse_attributes(std::string_view body);
struct BatchGetPage {
  Items items;
  std::string unprocessed_keys_json;  // the UnprocessedKeys object, empty when nothing is left
};
Result<BatchGetPage> parse_batch_get(std::string_view body);

class Client {
 public:
  Client(AwsTransport& transport, std::string endpoint, std::string region);

  // The returned string is the Attributes object (per ReturnValues), empty when none.
  Result<std::string, AwsError> update_item(const UpdateItem& request, Deadline deadline);
  Result<std::string, AwsError> put_item(const PutItem& request, Deadline deadline);
  // On cancellation the error carries one CancellationReason per item (ConditionalCheckFailed, ...).
  Result<bool, AwsError> transact_write_items(const TransactWrite& request, Deadline deadline);
  // All items found; UnprocessedKeys are re-sent with backoff until done or the policy gives up. More than
  // 100 keys are split into several requests.
  Result<Items, AwsError> batch_get_item(const BatchGet& request, Deadline deadline);

 private:
  ServiceClient service_;
};

}  // namespace tap::dynamodb
