// Test driver of the AWS layer, for the Python tests (tests/unit/test_sigv4.py):
//   aws_cli sign    JSON lines on stdin, one request each -> one JSON line per request on stdout with the
//                   canonical request, the string to sign, the Authorization header and the signed headers
//                   (one process for thousands of requests: the botocore differential test).
//   aws_cli smoke TABLE TOPIC_ARN QUEUE_URL
//                   UpdateItem, PutItem, TransactWriteItems, BatchGetItem, Publish and SendMessage against
//                   the endpoints and credentials of the environment (moto in the tests).
//   aws_cli kms KEY_ID
//                   GenerateDataKey under KEY_ID with an encryption context, Decrypt of its blob under the
//                   same context and under another one (tests/unit/test_kms_moto.py).
#include <simdjson.h>

#include <chrono>
#include <iostream>
#include <string>

#include "tap/aws/aws_config.hpp"
#include "tap/aws/aws_layer.hpp"
#include "tap/aws/dynamodb.hpp"
#include "tap/aws/kms.hpp"
#include "tap/aws/sigv4.hpp"
#include "tap/aws/sns.hpp"
#include "tap/aws/sqs.hpp"
#include "tap/core/base64.hpp"

namespace {

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out.append("\\u00").push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0f]);
    } else {
      out.push_back(ch);
    }
  }
  return out + "\"";
}

std::string get_string(simdjson::ondemand::object& obj, std::string_view key) {
  std::string_view value;
  if (obj.find_field_unordered(key).get_string().get(value) != simdjson::SUCCESS) return "";
  return std::string(value);
}

int sign() {
  simdjson::ondemand::parser parser;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    simdjson::padded_string padded(line);
    simdjson::ondemand::document doc;
    simdjson::ondemand::object obj;
    if (parser.iterate(padded).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(obj) != simdjson::SUCCESS) {
      std::cerr << "invalid JSON line\n";
      return 2;
    }
    tap::HttpRequest request;
    request.method = get_string(obj, "method");
    request.endpoint = get_string(obj, "endpoint");
    request.path = get_string(obj, "path");
    request.query = get_string(obj, "query");
    request.body = get_string(obj, "body");
    simdjson::ondemand::array headers;
    if (obj.find_field_unordered("headers").get_array().get(headers) == simdjson::SUCCESS) {
      for (auto header : headers) {
        simdjson::ondemand::array pair;
        std::string_view name;
        std::string_view value;
        if (header.get_array().get(pair) != simdjson::SUCCESS) return 2;
        auto it = pair.begin();
        if ((*it).get_string().get(name) != simdjson::SUCCESS) return 2;
        ++it;
        if ((*it).get_string().get(value) != simdjson::SUCCESS) return 2;
        request.headers.emplace_back(std::string(name), std::string(value));
      }
    }
    const tap::Credentials credentials{get_string(obj, "access_key"), get_string(obj, "secret_key"),
                                       get_string(obj, "token")};
    std::int64_t epoch = 0;
    if (obj.find_field_unordered("time").get_int64().get(epoch) != simdjson::SUCCESS) return 2;
    const tap::sigv4::Signer signer(get_string(obj, "region"), get_string(obj, "service"));
    const auto sig = signer.sign(request, credentials, std::chrono::system_clock::from_time_t(epoch));
    std::string out = "{\"creq\":" + quote(sig.canonical_request) + ",\"sts\":" + quote(sig.string_to_sign) +
                      ",\"authorization\":" + quote(sig.authorization) + ",\"headers\":[";
    for (std::size_t i = 0; i < request.headers.size(); ++i) {
      if (i > 0) out.push_back(',');
      out += "[" + quote(request.headers[i].first) + "," + quote(request.headers[i].second) + "]";
    }
    std::cout << out << "]}\n" << std::flush;
  }
  return 0;
}

int report(const std::string& step, bool ok, const std::string& detail) {
  std::cout << "{\"step\":" << quote(step) << ",\"ok\":" << (ok ? "true" : "false")
            << ",\"detail\":" << quote(detail) << "}\n";
  return ok ? 0 : 1;
}

template <typename T>
int check(const std::string& step, const tap::Result<T, tap::AwsError>& result, const std::string& detail) {
  if (result.ok()) return report(step, true, detail);
  return report(step, false, result.error().code + ": " + result.error().message);
}

int smoke(const std::string& table, const std::string& topic, const std::string& queue) {
  auto layer = tap::AwsLayer::from_env(tap::process_env());
  if (!layer.ok()) return report("config", false, layer.error().code + ": " + layer.error().message);
  tap::AwsLayer& aws = *layer.value();
  auto& ddb = aws.dynamodb;
  auto& sns = aws.sns;
  auto& sqs = aws.sqs;
  auto& retry = aws.retry;
  const auto deadline = tap::SteadyClock::now() + std::chrono::seconds(20);
  int failures = 0;

  tap::dynamodb::UpdateItem update{table,
                                   R"({"symbol":{"S":"AAPL"},"timestamp":{"S":"state"}})",
                                   "SET side = :s",
                                   "attribute_not_exists(side)",
                                   "",
                                   R"({":s":{"S":"above"}})",
                                   "ALL_NEW",
                                   true};
  auto updated = ddb.update_item(update, deadline);
  failures += check("UpdateItem", updated, updated.ok() ? updated.value() : "");
  auto again = ddb.update_item(update, deadline);  // the condition now fails, the old item comes back
  failures += report(
      "UpdateItem-condition",
      !again.ok() && again.error().code == "ConditionalCheckFailedException" && !again.error().retryable,
      again.ok() ? "succeeded" : again.error().code + " item=" + again.error().item_json);

  tap::dynamodb::PutItem put{table,
                             R"({"symbol":{"S":"AAPL"},"timestamp":{"S":"t1#r1"},"n":{"N":"1"}})",
                             "attribute_not_exists(symbol)",
                             "",
                             "",
                             false};
  auto put_result = ddb.put_item(put, deadline);
  failures += check("PutItem", put_result, "");

  tap::dynamodb::TransactWrite tx;
  tx.items.emplace_back(
      tap::dynamodb::UpdateItem{table, R"({"symbol":{"S":"AAPL"},"timestamp":{"S":"state"}})",
                                "SET last_fire_ts = :ts", "", "", R"({":ts":{"S":"t2"}})", "", false});
  tx.items.emplace_back(tap::dynamodb::PutItem{table, R"({"symbol":{"S":"AAPL"},"timestamp":{"S":"t2#r1"}})",
                                               "attribute_not_exists(symbol)", "", "", true});
  auto committed = ddb.transact_write_items(tx, deadline);
  failures += check("TransactWriteItems", committed, "");
  auto cancelled = ddb.transact_write_items(tx, deadline);  // the Put's condition fails now
  std::string reasons;
  if (!cancelled.ok()) {
    for (const auto& r : cancelled.error().cancellation_reasons) reasons += r.code + " ";
  }
  failures += report("TransactWriteItems-cancelled",
                     !cancelled.ok() && cancelled.error().code == "TransactionCanceledException" &&
                         cancelled.error().cancellation_reasons.size() == 2 &&
                         cancelled.error().cancellation_reasons[1].code == "ConditionalCheckFailed",
                     reasons);

  tap::dynamodb::BatchGet get;
  get[table].keys_json = {R"({"symbol":{"S":"AAPL"},"timestamp":{"S":"state"}})",
                          R"({"symbol":{"S":"AAPL"},"timestamp":{"S":"t2#r1"}})",
                          R"({"symbol":{"S":"MSFT"},"timestamp":{"S":"none"}})"};
  auto items = ddb.batch_get_item(get, deadline);
  failures +=
      report("BatchGetItem", items.ok() && items.value()[table].size() == 2,
             items.ok() ? std::to_string(items.value()[table].size()) + " items" : items.error().message);

  auto published = sns.publish(
      {topic, "{\"alert\":\"AAPL#t2#r1\"}", "alert & <test>", {{"symbol", "AAPL"}, {"severity", "high"}}},
      deadline);
  failures += check("Publish", published, published.ok() ? published.value() : "");
  auto sent =
      sqs.send_message({queue, "{\"bad\": tick}", {{"RejectionReason", "invalid_json: line 1"}}}, deadline);
  failures += check("SendMessage", sent, sent.ok() ? sent.value() : "");
  std::cout << "{\"retries\":" << retry.retries() << ",\"failures\":" << failures << "}\n";
  return failures == 0 ? 0 : 1;
}

// One JSON line: the data key (plain and encrypted, base64) and how each Decrypt went.
int kms_round_trip(const std::string& key_id) {
  auto layer = tap::AwsLayer::from_env(tap::process_env());
  if (!layer.ok()) return report("config", false, layer.error().code + ": " + layer.error().message);
  auto& kms = layer.value()->kms;
  const auto deadline = tap::SteadyClock::now() + std::chrono::seconds(20);
  const tap::kms::EncryptionContext context = {{"purpose", "api-cursor"}, {"key_id", "k1"}};
  auto key = kms.generate_data_key({key_id, context}, deadline);
  if (!key.ok()) return report("GenerateDataKey", false, key.error().code + ": " + key.error().message);
  auto same = kms.decrypt({key->ciphertext, key_id, context}, deadline);
  auto other = kms.decrypt({key->ciphertext, "", {{"purpose", "api-cursor"}, {"key_id", "k2"}}}, deadline);
  std::cout << "{\"plaintext\":" << quote(tap::base64::encode(key->plaintext))
            << ",\"ciphertext\":" << quote(tap::base64::encode(key->ciphertext))
            << ",\"key_arn\":" << quote(key->key_arn) << ",\"decrypted\":"
            << quote(same.ok() ? tap::base64::encode(same.value()) : "error " + same.error().code)
            << ",\"other_context\":" << quote(other.ok() ? "decrypted" : other.error().code) << "}\n";
  return same.ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "sign") return sign();
  if (mode == "smoke" && argc == 5) return smoke(argv[2], argv[3], argv[4]);
  if (mode == "kms" && argc == 3) return kms_round_trip(argv[2]);
  std::cerr << "usage: aws_cli sign < requests.jsonl | aws_cli smoke TABLE TOPIC_ARN QUEUE_URL | aws_cli kms "
               "KEY_ID\n";
  return 2;
}
