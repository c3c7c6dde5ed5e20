// Test driver of the rules storage adapter (rules_dynamodb.hpp) against a real DynamoDB API (moto in
// tests/unit/test_rules_dynamodb_moto.py), endpoint and credentials from the environment. One JSON line out
// per step:
//   rules_store_cli lifecycle TABLE OWNER  create, refused create (name), stale edit, fence passed, quota,
//                                          rename, delete, log, head, get, list, controls: each step's
//                                          outcome
//   rules_store_cli scan TABLE SEGMENTS HORIZON_MICROS   every segment in turn: records, versions, invalid
//                                                        items, requests, response bytes, CPU and wall time
//   rules_store_cli fence TABLE SHARD TARGET_MICROS      one advance_fence: the head it returns
//   rules_store_cli commits TABLE WRITERS SECONDS        WRITERS threads creating rules on one head
//                                                        (shard 0) for SECONDS: commits/s and refusals
// Plans are built here by hand (the adapter stores whatever plan it is given; planning is not its job).
#include <array>
#include <atomic>
#include <chrono>
#include <ctime>
#include <iostream>
#include <random>
#include <string>
#include <thread>

#include "tap/app/rules_dynamodb.hpp"
#include "tap/aws/aws_layer.hpp"
#include "tap/core/json_text.hpp"

namespace {

using tap::ChangePlan;
using tap::CommitResult;
using tap::RuleRecord;

std::string random_token() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::array<std::uint8_t, 16> bits{};
  for (auto& b : bits) b = static_cast<std::uint8_t>(rng());
  return tap::rule_id_from_bits(bits);
}

std::int64_t now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// R3's rule for a writer: at least now + P, and after the fence (rule_change.hpp, effective_from_for).
std::int64_t effective_from(std::int64_t fence_micros) {
  return std::max(now_micros() + 5'000'000, fence_micros + 1);
}

tap::Deadline deadline() { return tap::SteadyClock::now() + std::chrono::seconds(30); }

std::string_view status_name(CommitResult::Status s) {
  switch (s) {
    case CommitResult::Status::committed:
      return "committed";
    case CommitResult::Status::fence_passed:
      return "fence_passed";
    case CommitResult::Status::stale:
      return "stale";
    case CommitResult::Status::name_taken:
      return "name_taken";
    case CommitResult::Status::quota_exceeded:
      break;
  }
  return "quota_exceeded";
}

void line(std::string_view step, std::string_view outcome, const std::string& extra = "") {
  std::string out = "{\"step\":";
  tap::json::append_string(out, step);
  out += ",\"outcome\":";
  tap::json::append_string(out, outcome);
  if (!extra.empty()) out += "," + extra;
  std::cout << out << "}\n" << std::flush;
}

template <typename T>
std::string_view outcome(const tap::Result<T, tap::AwsError>& r) {
  return r ? std::string_view("ok") : std::string_view(r.error().code);
}

void commit_line(std::string_view step, const tap::Result<CommitResult, tap::AwsError>& r) {
  if (!r) return line(step, r.error().code);
  line(step, status_name(r->status), "\"seq\":" + std::to_string(r->head.seq));
}

// A rule as created at `eff`: version 1 open from there.
RuleRecord created(const std::string& owner, const std::string& id, const std::string& name,
                   std::int64_t eff) {
  RuleRecord r;
  r.id = id;
  r.owner = owner;
  r.spec.name = name;
  r.spec.symbol = "AAPL";
  r.spec.condition = tap::Condition::price_above;
  r.spec.threshold = 200;
  r.revision = 1;
  r.arming = 1;
  r.created_at_micros = r.updated_at_micros = eff;
  tap::Rule v;
  v.id = id;
  v.owner = owner;
  v.symbol = r.spec.symbol;
  v.condition = r.spec.condition;
  v.threshold = r.spec.threshold;
  v.mode = tap::TriggerMode::once;
  v.arming = 1;
  v.window = {eff, tap::EffectiveWindow::kOpenEnd};
  r.versions = {v};
  return r;
}

// `read` changed at `eff`: its open version closed there and, unless deleted, a new one opened.
ChangePlan changed(const RuleRecord& read, std::int64_t eff, tap::RuleState state, const std::string& name) {
  ChangePlan p;
  p.next = read;
  p.next.state = state;
  p.next.spec.name = name;
  p.next.revision = read.revision + 1;
  p.next.updated_at_micros = eff;
  p.next.versions.back().window.until_micros = eff;
  if (state != tap::RuleState::deleted) {
    tap::Rule v = read.versions.back();
    v.version += 1;
    v.window = {eff, tap::EffectiveWindow::kOpenEnd};
    p.next.versions.push_back(v);
  } else {
    p.quota_delta = -1;
  }
  return p;
}

ChangePlan create_plan(const RuleRecord& r) {
  ChangePlan p;
  p.next = r;
  p.quota_delta = 1;
  return p;
}

int lifecycle(tap::AwsLayer& aws, const std::string& table, const std::string& owner) {
  tap::DynamoDbRulesStore store(aws.dynamodb, {.table = table, .shards = 1, .log_ttl_seconds = 3600},
                                random_token);
  auto head = store.head(0, deadline());
  line("head", outcome(head));
  if (!head) return 1;
  const std::int64_t eff = effective_from(head->fence_micros);
  const RuleRecord r1 = created(owner, random_token(), "breakout", eff);
  commit_line("create", store.commit(head.value(), std::nullopt, create_plan(r1), eff, 2, deadline()));
  commit_line("create-same-name",
              store.commit(head.value(), std::nullopt,
                           create_plan(created(owner, random_token(), "breakout", eff)), eff, 2, deadline()));
  RuleRecord stale = r1;
  stale.revision = 7;
  commit_line("edit-stale",
              store.commit(head.value(), stale, changed(stale, eff + 1, tap::RuleState::active, "breakout"),
                           eff + 1, 2, deadline()));
  const RuleRecord r2 = created(owner, random_token(), "second", eff);
  commit_line("create-second", store.commit(head.value(), std::nullopt, create_plan(r2), eff, 2, deadline()));
  commit_line("create-over-quota",
              store.commit(head.value(), std::nullopt,
                           create_plan(created(owner, random_token(), "third", eff)), eff, 2, deadline()));
  // A reader's fence passes eff + 10: a change effective before it is refused, one after it commits.
  auto fenced = store.advance_fence(0, eff + 10, deadline());
  line("fence", outcome(fenced), fenced ? "\"fence\":" + std::to_string(fenced->fence_micros) : "");
  auto lower = store.advance_fence(0, eff + 5, deadline());
  line("fence-lower", outcome(lower), lower ? "\"fence\":" + std::to_string(lower->fence_micros) : "");
  commit_line("edit-behind-fence",
              store.commit(head.value(), r1, changed(r1, eff + 9, tap::RuleState::active, "breakout"),
                           eff + 9, 2, deadline()));
  const ChangePlan rename = changed(r1, eff + 20, tap::RuleState::active, "breakout-2");
  commit_line("rename", store.commit(fenced.value(), r1, rename, eff + 20, 2, deadline()));
  commit_line("create-old-name",
              store.commit(fenced.value(), std::nullopt,
                           create_plan(created(owner, random_token(), "breakout", eff + 21)), eff + 21, 2,
                           deadline()));  // quota full: two rules
  const ChangePlan removal = changed(r2, eff + 30, tap::RuleState::deleted, "second");
  commit_line("delete", store.commit(fenced.value(), r2, removal, eff + 30, 2, deadline()));
  commit_line(
      "create-after-delete",
      store.commit(fenced.value(), std::nullopt,
                   create_plan(created(owner, random_token(), "second", eff + 31)), eff + 31, 2, deadline()));
  tap::SymbolControlRecord controls{"AAPL", {}};
  controls.controls.suspensions = {{eff + 40, eff + 50}};
  commit_line("suspend", store.commit_controls(fenced.value(), controls, eff + 40, deadline()));

  auto log = store.changes_from(0, eff, deadline());
  line("log", outcome(log), log ? "\"entries\":" + std::to_string(log->size()) : "");
  auto after = store.head(0, deadline());
  line("head-after", outcome(after), after ? "\"seq\":" + std::to_string(after->seq) : "");
  auto got = store.get(owner, r1.id, deadline());
  const bool same = got && got.value() == rename.next;
  line("get", same ? "equal" : "different");
  auto all = store.list(owner, true, deadline());
  auto live = store.list(owner, false, deadline());
  line("list", outcome(all),
       all && live ? "\"all\":" + std::to_string(all->size()) + ",\"live\":" + std::to_string(live->size())
                   : "");
  auto read = store.records(log.value(), deadline());
  line("records", outcome(read), read ? "\"records\":" + std::to_string(read->records.size()) : "");
  auto symbols = store.controls(deadline());
  line("controls", outcome(symbols),
       symbols && symbols->size() == 1 &&
               symbols->front().controls.suspensions == controls.controls.suspensions
           ? "\"equal\":true"
           : "\"equal\":false");
  return 0;
}

// Counts the requests sent and the response bytes received through the layer's HTTP client.
class CountingHttp final : public tap::HttpClient {
 public:
  explicit CountingHttp(tap::HttpClient& inner) : inner_(inner) {}
  tap::Result<tap::HttpResponse> send(const tap::HttpRequest& request, tap::Deadline deadline) override {
    ++requests;
    auto response = inner_.send(request, deadline);
    if (response) bytes += response->body.size();
    return response;
  }
  std::size_t requests = 0;
  std::size_t bytes = 0;

 private:
  tap::HttpClient& inner_;
};

int scan(tap::AwsLayer& aws, const std::string& table, std::uint32_t segments, std::int64_t horizon) {
  CountingHttp counting(*aws.transport.http);
  aws.transport.http = &counting;
  const std::clock_t cpu_start = std::clock();
  const auto wall_start = std::chrono::steady_clock::now();
  tap::DynamoDbRulesStore store(aws.dynamodb, {.table = table, .shards = 1, .log_ttl_seconds = 3600},
                                random_token);
  std::size_t records = 0;
  std::size_t versions = 0;
  std::string invalid = "[";
  for (std::uint32_t s = 0; s < segments; ++s) {
    auto read = store.scan(s, segments, horizon, deadline());
    if (!read) return line("scan", read.error().code), 1;
    records += read->records.size();
    for (const RuleRecord& r : read->records) versions += r.versions.size();
    for (const std::string& why : read->invalid) {
      if (invalid.size() > 1) invalid += ',';
      tap::json::append_string(invalid, why);
    }
  }
  std::string times = ",\"cpu_seconds\":";
  tap::json::append_number(times, static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC);
  times += ",\"wall_seconds\":";
  tap::json::append_number(
      times, std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count());
  line("scan", "ok",
       "\"records\":" + std::to_string(records) + ",\"versions\":" + std::to_string(versions) +
           ",\"invalid\":" + invalid + "],\"requests\":" + std::to_string(counting.requests) +
           ",\"response_bytes\":" + std::to_string(counting.bytes) + times);
  return 0;
}

int fence(tap::AwsLayer& aws, const std::string& table, std::uint32_t shard, std::int64_t target) {
  tap::DynamoDbRulesStore store(aws.dynamodb, {.table = table, .shards = shard + 1, .log_ttl_seconds = 3600},
                                random_token);
  auto h = store.advance_fence(shard, target, deadline());
  if (!h) return line("fence", h.error().code), 1;
  line("fence", "ok", "\"seq\":" + std::to_string(h->seq) + ",\"fence\":" + std::to_string(h->fence_micros));
  return 0;
}

// WRITERS threads, each with its own connection, commit creates on shard 0 as the protocol prescribes
// (read the head, effective_from_for, commit; fence_passed: read again) until SECONDS have passed.
int commits(const std::string& table, int writers, double seconds) {
  std::atomic<long> committed{0};
  std::atomic<long> refused{0};
  std::atomic<long> errors{0};
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      auto layer = tap::AwsLayer::from_env(tap::process_env());
      if (!layer) return errors.fetch_add(1), void();
      tap::DynamoDbRulesStore store(layer.value()->dynamodb,
                                    {.table = table, .shards = 1, .log_ttl_seconds = 3600}, random_token);
      const std::string owner = "bench-" + std::to_string(w);
      while (std::chrono::steady_clock::now() < end) {
        auto head = store.head(0, deadline());
        if (!head) {
          errors.fetch_add(1);
          continue;
        }
        const std::int64_t eff = effective_from(head->fence_micros);
        const RuleRecord r = created(owner, random_token(), random_token(), eff);
        auto result = store.commit(head.value(), std::nullopt, create_plan(r), eff, 1'000'000, deadline());
        if (!result) {
          errors.fetch_add(1);
        } else if (result->status == CommitResult::Status::committed) {
          committed.fetch_add(1);
        } else {
          refused.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string extra = "\"writers\":" + std::to_string(writers) +
                      ",\"commits\":" + std::to_string(committed.load()) +
                      ",\"refused\":" + std::to_string(refused.load()) +
                      ",\"errors\":" + std::to_string(errors.load()) + ",\"seconds\":";
  tap::json::append_number(extra, elapsed);
  extra += ",\"per_second\":";
  tap::json::append_number(extra, static_cast<double>(committed.load()) / elapsed);
  line("commits", "ok", extra);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 4 && args[0] == "commits")
    return commits(args[1], std::stoi(args[2]), std::stod(args[3]));
  auto layer = tap::AwsLayer::from_env(tap::process_env());
  if (!layer) {
    std::cerr << layer.error().code << ": " << layer.error().message << "\n";
    return 2;
  }
  if (args.size() == 3 && args[0] == "lifecycle") return lifecycle(*layer.value(), args[1], args[2]);
  if (args.size() == 4 && args[0] == "scan") {
    return scan(*layer.value(), args[1], static_cast<std::uint32_t>(std::stoul(args[2])),
                std::stoll(args[3]));
  }
  if (args.size() == 4 && args[0] == "fence") {
    return fence(*layer.value(), args[1], static_cast<std::uint32_t>(std::stoul(args[2])),
                 std::stoll(args[3]));
  }
  std::cerr
      << "usage: rules_store_cli lifecycle TABLE OWNER | scan TABLE SEGMENTS HORIZON | fence TABLE SHARD "
         "TARGET | commits TABLE WRITERS SECONDS\n";
  return 2;
}
