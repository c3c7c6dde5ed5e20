// Test driver of the API's storage against a real AWS API (moto in tests/unit/test_api_store_moto.py),
// endpoint and credentials from the environment. One JSON line out per result:
//   api_store_cli seed ALERTS_TABLE OWNER COUNT FIRST_MILLIS STEP_MILLIS
//        stores COUNT alerts of OWNER (symbols AAPL/MSFT alternating, rules r0..r2) as the processor writes
//        them (alert_item), the i-th with a stored_id at FIRST_MILLIS + i * STEP_MILLIS
//   api_store_cli list ALERTS_TABLE OWNER BEFORE_MICROS LIMIT [SYMBOL]
//        pages through the owner's alerts stored before BEFORE_MICROS: one line per alert, then
//        {"pages": n, "position": [...]} with the position the last page ended at
//   api_store_cli keys RULES_TABLE KMS_KEY NOW_SECONDS
//        two cursor key sources (two instances) load the keyring: its ids, and whether they agree
#include <chrono>
#include <iostream>
#include <random>
#include <string>

#include "tap/api/cursor_keys.hpp"
#include "tap/app/dynamodb_store.hpp"
#include "tap/app/rules_dynamodb.hpp"
#include "tap/aws/aws_layer.hpp"
#include "tap/core/json_text.hpp"

namespace {

tap::Deadline deadline() { return tap::SteadyClock::now() + std::chrono::seconds(30); }

std::string quoted(std::string_view s) {
  std::string out;
  tap::json::append_string(out, s);
  return out;
}

int fail(std::string_view step, const tap::AwsError& e) {
  std::cout << "{\"step\":" << quoted(step) << ",\"error\":" << quoted(e.code + ": " + e.message) << "}\n";
  return 1;
}

int seed(tap::AwsLayer& aws, const std::string& table, const std::string& owner, int count,
         std::int64_t first, std::int64_t step) {
  tap::UlidGenerator ids([random = std::mt19937_64(7)]() mutable { return random(); });
  for (int i = 0; i < count; ++i) {
    tap::Rule rule;
    rule.id = "r" + std::to_string(i % 3);
    rule.owner = owner;
    rule.version = 1;
    rule.symbol = i % 2 == 0 ? "AAPL" : "MSFT";
    const std::int64_t stored_millis = first + i * step;
    const tap::Tick tick{.symbol = rule.symbol,
                         .price = static_cast<double>(100 + i),
                         .ts = {stored_millis * 1000 - 1'000'000},
                         .volume = {},
                         .bid = {},
                         .ask = {}};
    const std::string id = tap::to_string(ids.next(stored_millis));
    tap::dynamodb::PutItem put;
    put.table = table;
    put.item_json = tap::alert_item(tap::AlertRecord{{&rule, &tick, "m"}, stored_millis * 1000}, id);
    if (auto r = aws.dynamodb.put_item(put, deadline()); !r) return fail("seed", r.error());
  }
  std::cout << "{\"seeded\":" << count << "}\n";
  return 0;
}

int list(tap::AwsLayer& aws, const std::string& table, const std::string& owner, std::int64_t before,
         std::uint32_t limit, const std::string& symbol) {
  tap::DynamoDbAlertLog log(aws.dynamodb, table);
  tap::AlertQuery q;
  q.owner = owner;
  q.stored_before_micros = before;
  q.limit = limit;
  if (!symbol.empty()) q.symbol = symbol;
  int pages = 0;
  for (;;) {
    auto page = log.list(q, deadline());
    if (!page) return fail("list", page.error());
    ++pages;
    for (const tap::FiredAlert& a : page->alerts) {
      std::cout << "{\"stored_id\":" << quoted(a.stored_id) << ",\"owner\":" << quoted(a.owner)
                << ",\"symbol\":" << quoted(a.tick.symbol) << ",\"rule_id\":" << quoted(a.rule_id) << "}\n";
    }
    q.after = page->position;
    if (!page->more) break;
  }
  std::cout << "{\"pages\":" << pages << ",\"position\":[";
  for (std::size_t i = 0; i < q.after.size(); ++i) {
    std::cout << (i > 0 ? "," : "") << "[" << quoted(q.after[i].first) << "," << quoted(q.after[i].second)
              << "]";
  }
  std::cout << "]}\n";
  return 0;
}

int keys(tap::AwsLayer& aws, const std::string& table, const std::string& kms_key, std::int64_t now) {
  tap::DynamoDbCursorKeyStore store(aws.dynamodb, table);
  tap::KmsDataKeys data_keys(aws.kms, kms_key);
  tap::api::CursorKeySource first(store, data_keys);
  tap::api::CursorKeySource second(store, data_keys);
  auto a = first.keys(now, deadline());
  if (!a) return fail("keys", a.error());
  auto b = second.keys(now, deadline());
  if (!b) return fail("keys", b.error());
  std::cout << "{\"current\":" << quoted(a->current.id) << ",\"verify_only\":[";
  for (std::size_t i = 0; i < a->verify_only.size(); ++i) {
    std::cout << (i > 0 ? "," : "") << quoted(a->verify_only[i].id);
  }
  const bool same = a->current.secret == b->current.secret && a->current.id == b->current.id;
  const auto cursor = tap::api::encode_cursor({{"k", "v"}}, {"o", "r", {}}, a.value(), now);
  const bool crosses = cursor && tap::api::decode_cursor(cursor.value(), {"o", "r", {}}, b.value(), now).ok();
  std::cout << "],\"same_secret\":" << (same ? "true" : "false")
            << ",\"cursor_crosses\":" << (crosses ? "true" : "false")
            << ",\"secret_bytes\":" << a->current.secret.size() << "}\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto layer = tap::AwsLayer::from_env(tap::process_env());
  if (!layer) {
    std::cerr << layer.error().message << "\n";
    return 2;
  }
  tap::AwsLayer& aws = *layer.value();
  if (args.size() == 6 && args[0] == "seed") {
    return seed(aws, args[1], args[2], std::stoi(args[3]), std::stoll(args[4]), std::stoll(args[5]));
  }
  if ((args.size() == 5 || args.size() == 6) && args[0] == "list") {
    return list(aws, args[1], args[2], std::stoll(args[3]), static_cast<std::uint32_t>(std::stoul(args[4])),
                args.size() == 6 ? args[5] : "");
  }
  if (args.size() == 4 && args[0] == "keys") return keys(aws, args[1], args[2], std::stoll(args[3]));
  std::cerr << "usage: api_store_cli seed|list|keys ... (see the file's head)\n";
  return 2;
}
