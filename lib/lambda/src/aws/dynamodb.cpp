#include "tap/aws/dynamodb.hpp"

#include "json.hpp"

namespace tap::dynamodb {
namespace {

using aws_json::quote;

void field(std::string& out, std::string_view name, std::string_view raw_json) {
  if (raw_json.empty()) return;
  if (out.size() > 1) out.push_back(',');
  out.append(quote(name)).append(":").append(raw_json);
}

void string_field(std::string& out, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  field(out, name, quote(value));
}

std::string body(const UpdateItem& r) {
  std::string out = "{";
  string_field(out, "TableName", r.table);
  field(out, "Key", r.key_json);
  string_field(out, "UpdateExpression", r.update_expression);
  string_field(out, "ConditionExpression", r.condition_expression);
  field(out, "ExpressionAttributeNames", r.names_json);
  field(out, "ExpressionAttributeValues", r.values_json);
  if (r.return_old_on_condition_failure) string_field(out, "ReturnValuesOnConditionCheckFailure", "ALL_OLD");
  return out;  // left open: the callers add their own fields and the closing brace
}

std::string body(const PutItem& r) {
  std::string out = "{";
  string_field(out, "TableName", r.table);
  field(out, "Item", r.item_json);
  string_field(out, "ConditionExpression", r.condition_expression);
  field(out, "ExpressionAttributeNames", r.names_json);
  field(out, "ExpressionAttributeValues", r.values_json);
  if (r.return_old_on_condition_failure) string_field(out, "ReturnValuesOnConditionCheckFailure", "ALL_OLD");
  return out;
}

std::string body(const DeleteItem& r) {
  std::string out = "{";
  string_field(out, "TableName", r.table);
  field(out, "Key", r.key_json);
  string_field(out, "ConditionExpression", r.condition_expression);
  field(out, "ExpressionAttributeNames", r.names_json);
  field(out, "ExpressionAttributeValues", r.values_json);
  return out;
}

Result<simdjson::ondemand::object> top_object(simdjson::padded_string& padded,
                                              simdjson::ondemand::document& doc) {
  simdjson::ondemand::object obj;
  if (aws_json::parser().iterate(padded).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(obj) != simdjson::SUCCESS) {
    return Error{"InvalidResponse", "DynamoDB response is not a JSON object"};
  }
  return obj;
}

// Turns a parse failure of a 2xx body into a non-retryable AwsError.
AwsError invalid(const Error& e) { return make_aws_error(e.code, e.message); }

// Appends the raw JSON of each object of an array (a response's items); false for anything else.
bool append_items(simdjson::simdjson_result<simdjson::ondemand::value> value, std::vector<std::string>& out) {
  simdjson::ondemand::array items;
  if (value.get_array().get(items) != simdjson::SUCCESS) return false;
  for (auto item : items) {
    simdjson::ondemand::object item_obj;
    std::string_view raw;
    if (item.get_object().get(item_obj) != simdjson::SUCCESS ||
        item_obj.raw_json().get(raw) != simdjson::SUCCESS) {
      return false;
    }
    out.emplace_back(raw);
  }
  return true;
}

// The raw JSON of an object value; false for anything else.
bool raw_object(simdjson::simdjson_result<simdjson::ondemand::value> value, std::string_view& raw) {
  simdjson::ondemand::object object;
  return value.get_object().get(object) == simdjson::SUCCESS &&
         object.raw_json().get(raw) == simdjson::SUCCESS;
}

}  // namespace

std::string render(const UpdateItem& request) {
  std::string out = body(request);
  string_field(out, "ReturnValues", request.return_values);
  return out + "}";
}

std::string render(const PutItem& request) { return body(request) + "}"; }

std::string render(const TransactWrite& request) {
  std::string out = "{\"TransactItems\":[";
  for (std::size_t i = 0; i < request.items.size(); ++i) {
    if (i > 0) out.push_back(',');
    if (const auto* put = std::get_if<PutItem>(&request.items[i])) {
      out.append("{\"Put\":").append(body(*put)).append("}}");
    } else if (const auto* update = std::get_if<UpdateItem>(&request.items[i])) {
      out.append("{\"Update\":").append(body(*update)).append("}}");
    } else {
      out.append("{\"Delete\":").append(body(std::get<DeleteItem>(request.items[i]))).append("}}");
    }
  }
  out.append("]");
  string_field(out, "ClientRequestToken", request.client_request_token);
  return out + "}";
}

std::string render(const BatchGet& request) {
  std::string out = "{\"RequestItems\":{";
  bool first_table = true;
  for (const auto& [table, spec] : request) {
    if (!first_table) out.push_back(',');
    first_table = false;
    out.append(quote(table)).append(":{\"Keys\":[");
    for (std::size_t i = 0; i < spec.keys_json.size(); ++i) {
      if (i > 0) out.push_back(',');
      out.append(spec.keys_json[i]);
    }
    out.append("],\"ConsistentRead\":").append(spec.consistent_read ? "true" : "false").append("}");
  }
  return out + "}}";
}

std::string render(const Query& request) {
  std::string out = "{";
  string_field(out, "TableName", request.table);
  string_field(out, "IndexName", request.index_name);
  string_field(out, "KeyConditionExpression", request.key_condition);
  string_field(out, "FilterExpression", request.filter_expression);
  field(out, "ExpressionAttributeNames", request.names_json);
  field(out, "ExpressionAttributeValues", request.values_json);
  field(out, "ConsistentRead", request.consistent_read ? "true" : "false");
  field(out, "ExclusiveStartKey", request.exclusive_start_key_json);
  if (request.limit > 0) field(out, "Limit", std::to_string(request.limit));
  return out + "}";
}

std::string render(const Scan& request) {
  std::string out = "{";
  string_field(out, "TableName", request.table);
  string_field(out, "FilterExpression", request.filter_expression);
  field(out, "ExpressionAttributeNames", request.names_json);
  field(out, "ExpressionAttributeValues", request.values_json);
  field(out, "ConsistentRead", request.consistent_read ? "true" : "false");
  field(out, "Segment", std::to_string(request.segment));
  field(out, "TotalSegments", std::to_string(request.total_segments));
  field(out, "ExclusiveStartKey", request.exclusive_start_key_json);
  return out + "}";
}

Result<Page> parse_page(std::string_view body) {
  simdjson::padded_string padded(body);
  simdjson::ondemand::document doc;
  auto obj = top_object(padded, doc);
  if (!obj.ok()) return obj.error();
  Page page;
  const Error malformed{"InvalidResponse", "malformed Query/Scan response"};
  for (auto f : obj.value()) {
    std::string_view key;
    if (f.unescaped_key().get(key) != simdjson::SUCCESS) return malformed;
    std::string_view raw;
    if (key == "Items") {
      if (!append_items(f.value(), page.items)) return malformed;
    } else if (key == "LastEvaluatedKey") {
      if (!raw_object(f.value(), raw)) return malformed;
      page.last_evaluated_key_json = std::string(raw);
    }
  }
  return page;
}

Result<std::string> parse_attributes(std::string_view body) {
  simdjson::padded_string padded(body);
  simdjson::ondemand::document doc;
  auto obj = top_object(padded, doc);
  if (!obj.ok()) return obj.error();
  for (auto f : obj.value()) {
    std::string_view key;
    if (f.unescaped_key().get(key) != simdjson::SUCCESS) break;
    if (key != "Attributes") continue;
    simdjson::ondemand::object attributes;
    std::string_view raw;
    if (f.value().get_object().get(attributes) != simdjson::SUCCESS ||
        attributes.raw_json().get(raw) != simdjson::SUCCESS) {
      return Error{"InvalidResponse", "DynamoDB Attributes is not an object"};
    }
    return std::string(raw);
  }
  return std::string();
}

Result<BatchGetPage> parse_batch_get(std::string_view body) {
  simdjson::padded_string padded(body);
  simdjson::ondemand::document doc;
  auto obj = top_object(padded, doc);
  if (!obj.ok()) return obj.error();
  BatchGetPage page;
  const Error malformed{"InvalidResponse", "malformed BatchGetItem response"};
  for (auto f : obj.value()) {
    std::string_view key;
    if (f.unescaped_key().get(key) != simdjson::SUCCESS) return malformed;
    simdjson::ondemand::object value;
    if (key == "Responses") {
      if (f.value().get_object().get(value) != simdjson::SUCCESS) return malformed;
      for (auto table : value) {
        std::string_view name;
        if (table.unescaped_key().get(name) != simdjson::SUCCESS ||
            !append_items(table.value(), page.items[std::string(name)])) {
          return malformed;
        }
      }
    } else if (key == "UnprocessedKeys") {
      std::string_view raw;
      if (!raw_object(f.value(), raw)) return malformed;
      // "{}" (nothing left) is what DynamoDB usually sends.
      if (raw.find('"') != std::string_view::npos) page.unprocessed_keys_json = std::string(raw);
    }
  }
  return page;
}

namespace {
Result<Page, AwsError> page_of(Result<HttpResponse, AwsError> response) {
  if (!response.ok()) return response.error();
  auto page = parse_page(response->body);
  if (!page.ok()) return invalid(page.error());
  return std::move(page).value();
}
}  // namespace

Client::Client(AwsTransport& transport, std::string endpoint, std::string region)
    : service_(transport, std::move(endpoint), std::move(region), "dynamodb", Protocol::kJson) {}

Result<std::string, AwsError> Client::update_item(const UpdateItem& request, Deadline deadline) {
  auto response =
      service_.call(service_.json_request("DynamoDB_20120810.UpdateItem", render(request)), deadline);
  if (!response.ok()) return response.error();
  auto attributes = parse_attributes(response->body);
  if (!attributes.ok()) return invalid(attributes.error());
  return std::move(attributes).value();
}

Result<std::string, AwsError> Client::put_item(const PutItem& request, Deadline deadline) {
  auto response =
      service_.call(service_.json_request("DynamoDB_20120810.PutItem", render(request)), deadline);
  if (!response.ok()) return response.error();
  auto attributes = parse_attributes(response->body);
  if (!attributes.ok()) return invalid(attributes.error());
  return std::move(attributes).value();
}

Result<bool, AwsError> Client::transact_write_items(const TransactWrite& request, Deadline deadline) {
  auto response =
      service_.call(service_.json_request("DynamoDB_20120810.TransactWriteItems", render(request)), deadline);
  if (!response.ok()) return response.error();
  return true;
}

Result<Items, AwsError> Client::batch_get_item(const BatchGet& request, Deadline deadline) {
  constexpr std::size_t kMaxKeys = 100;  // DynamoDB's limit per BatchGetItem
  std::vector<std::string> bodies;
  BatchGet chunk;
  std::size_t in_chunk = 0;
  for (const auto& [table, spec] : request) {
    for (const auto& key : spec.keys_json) {
      if (in_chunk == kMaxKeys) {
        bodies.push_back(render(chunk));
        chunk.clear();
        in_chunk = 0;
      }
      auto& target = chunk[table];
      target.consistent_read = spec.consistent_read;
      target.keys_json.push_back(key);
      ++in_chunk;
    }
  }
  if (in_chunk > 0) bodies.push_back(render(chunk));

  Items items;
  for (std::string body : bodies) {
    for (int round = 1;; ++round) {
      auto response = service_.call(service_.json_request("DynamoDB_20120810.BatchGetItem", body), deadline);
      if (!response.ok()) return response.error();
      auto page = parse_batch_get(response->body);
      if (!page.ok()) return invalid(page.error());
      for (auto& [table, found] : page->items) {
        auto& out = items[table];
        out.insert(out.end(), std::make_move_iterator(found.begin()), std::make_move_iterator(found.end()));
      }
      if (page->unprocessed_keys_json.empty()) break;
      // UnprocessedKeys has the RequestItems shape: send it back as is, after a backoff.
      AwsError pending = make_aws_error("UnprocessedKeys", "BatchGetItem left keys unprocessed", 200, true);
      pending.attempts = round;
      if (!service_.backoff(pending, round, deadline)) return pending;
      body = "{\"RequestItems\":" + page->unprocessed_keys_json + "}";
    }
  }
  return items;
}

Result<Page, AwsError> Client::query(const Query& request, Deadline deadline) {
  return page_of(service_.call(service_.json_request("DynamoDB_20120810.Query", render(request)), deadline));
}

Result<Page, AwsError> Client::scan(const Scan& request, Deadline deadline) {
  return page_of(service_.call(service_.json_request("DynamoDB_20120810.Scan", render(request)), deadline));
}

}  // namespace tap::dynamodb
