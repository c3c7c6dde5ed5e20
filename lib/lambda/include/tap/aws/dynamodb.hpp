// DynamoDB over its JSON 1.0 protocol (X-Amz-Target DynamoDB_20120810.*): the calls the adapters make.
// Keys, items and expression values are DynamoDB-JSON text, e.g. {"symbol":{"S":"AAPL"}}; the store adapters
// (app/dynamodb_store.hpp, app/rules_dynamodb.hpp) render them. Request rendering and response parsing are
// pure functions, tested on their own. Scans go to the table; a Query may name an index (the alerts' by-owner
// index, A4), and then reads eventually consistently, as DynamoDB allows nothing else there.
#pragma once

#include <cstdint>
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

struct DeleteItem {
  std::string table;
  std::string key_json;
  std::string condition_expression;
  std::string names_json;
  std::string values_json;
};

using TransactItem = std::variant<PutItem, UpdateItem, DeleteItem>;

struct TransactWrite {
  std::vector<TransactItem> items;   // at most 100
  std::string client_request_token;  // idempotency token (makes a retry after a lost response safe)
};

struct KeysAndOptions {
  std::vector<std::string> keys_json;
  bool consistent_read = true;
};
using BatchGet = std::map<std::string, KeysAndOptions>;  // by table

// One page of a Query on the table's key, or on an index's.
struct Query {
  std::string table;
  std::string key_condition;
  std::string filter_expression;  // empty: none
  std::string names_json;
  std::string values_json;
  bool consistent_read = true;
  std::string exclusive_start_key_json;  // the previous page's LastEvaluatedKey, empty: the first page
  std::uint32_t limit = 0;               // Limit: items read per page (before the filter), 0: none
  std::string index_name;                // empty: the table (set: consistent_read must be false)
};

// One page of one segment of a parallel Scan of the table (never an index).
struct Scan {
  std::string table;
  std::string filter_expression;
  std::string names_json;
  std::string values_json;
  bool consistent_read = true;
  std::uint32_t segment = 0;
  std::uint32_t total_segments = 1;
  std::string exclusive_start_key_json;
};

struct Page {
  std::vector<std::string> items;       // each item's DynamoDB JSON
  std::string last_evaluated_key_json;  // empty: the last page
};
using Items = std::map<std::string, std::vector<std::string>>;  // by table, each item's DynamoDB JSON

// Rendering (the JSON bodies).
std::string render(const UpdateItem& request);
std::string render(const PutItem& request);
std::string render(const TransactWrite& request);
std::string render(const BatchGet& request);
std::string render(const Query& request);
std::string render(const Scan& request);

// Parsing: the "Attributes" object of an UpdateItem/PutItem response (empty when absent).
Result<std::string> parse_attributes(std::string_view body);
struct BatchGetPage {
  Items items;
  std::string unprocessed_keys_json;  // the UnprocessedKeys object, empty when nothing is left
};
Result<BatchGetPage> parse_batch_get(std::string_view body);
// A Query or Scan response: its Items and LastEvaluatedKey.
Result<Page> parse_page(std::string_view body);

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
  // One page each; the caller follows last_evaluated_key_json.
  Result<Page, AwsError> query(const Query& request, Deadline deadline);
  Result<Page, AwsError> scan(const Scan& request, Deadline deadline);

 private:
  ServiceClient service_;
};

}  // namespace tap::dynamodb
