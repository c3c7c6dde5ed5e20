// Idempotency-Key on the POST routes (tap/api/idempotency.hpp) through the whole function: a replay answers
// the original answer and changes nothing, another request with the key is 422, a request in flight is 409,
// keys are per owner, kept 24 h, and a 5xx frees the key.
#include "tap/api/idempotency.hpp"

#include <gtest/gtest.h>

#include "api_fixture.hpp"

namespace tap::api {
namespace {

using test_support::ApiFixture;
using test_support::Call;
using test_support::kSecond;

struct IdempotencyTest : ApiFixture {
  Call post(const std::string& key, const std::string& name = "breakout", const std::string& sub = "alice") {
    return {.method = "POST",
            .path = "/rules",
            .body = spec_body(name),
            .sub = sub,
            .headers = {{"idempotency-key", key}}};
  }
};

TEST_F(IdempotencyTest, AReplayAnswersTheOriginalAnswerAndCreatesNothing) {
  auto first = send(post("k1"));
  ASSERT_EQ(first->status, 201) << first->body;
  time.advance(60 * kSecond);
  auto again = send(post("k1"));
  EXPECT_EQ(again->status, 201);
  EXPECT_EQ(again->body, first->body);
  EXPECT_EQ(again->headers["ETag"], first->headers["ETag"]);
  EXPECT_EQ(again->headers["Location"], first->headers["Location"]);
  EXPECT_EQ(again->headers["Idempotent-Replayed"], "true");
  EXPECT_EQ(tables.list("alice", true).size(), 1U);
}

TEST_F(IdempotencyTest, TheSameKeyWithAnotherBodyIs422AndKeysArePerOwner) {
  ASSERT_EQ(send(post("k1"))->status, 201);
  auto other = send(post("k1", "other"));
  EXPECT_EQ(other->status, 422);
  EXPECT_EQ(other->text("/errors/0/field"), "Idempotency-Key");
  EXPECT_EQ(send(post("k1", "breakout", "bob"))->status, 201);  // bob's own key space
  EXPECT_EQ(tables.list("alice", true).size(), 1U);
}

TEST_F(IdempotencyTest, ARequestInFlightIs409UntilItsLeaseEnds) {
  // The first request's answer is never stored (it crashed after its change): its key stays in flight.
  idempotency.fail_next = "complete";
  ASSERT_EQ(send(post("k1"))->status, 201);
  auto busy = send(post("k1"));
  EXPECT_EQ(busy->status, 409);
  EXPECT_EQ(busy->text("/type"), "request-in-flight");
  EXPECT_EQ(send(post("k1", "other"))->status, 422) << "another request with the key";
  time.advance(kLeaseMicros);
  auto after_lease = send(post("k1"));  // runs again: the rule exists, so its name is taken
  EXPECT_EQ(after_lease->status, 409);
  EXPECT_EQ(after_lease->text("/type"), "conflict");
  EXPECT_EQ(tables.list("alice", true).size(), 1U);
}

TEST_F(IdempotencyTest, KeysAreForgottenAfter24Hours) {
  ASSERT_EQ(send(post("k1"))->status, 201);
  time.advance(kIdempotencyKeepMicros);
  auto later = send(post("k1", "other"));
  EXPECT_EQ(later->status, 201) << later->body;
}

TEST_F(IdempotencyTest, A5xxFreesTheKeyAndAnInvalidKeyIs422) {
  store.fail_requests = 1000;
  EXPECT_EQ(send(post("k1"))->status, 503);
  EXPECT_EQ(idempotency.releases, 1);
  store.fail_requests = 0;
  EXPECT_EQ(send(post("k1"))->status, 201);
  for (const std::string& bad : {std::string("has space"), std::string(129, 'k'), std::string("\x01")}) {
    auto a = send(post(bad));
    EXPECT_EQ(a->status, 422) << bad;
  }
}

TEST_F(IdempotencyTest, TheStoreFailingToTakeIs502AndFailingToCompleteStillAnswers) {
  idempotency.fail_next = "take";
  EXPECT_EQ(send(post("k1"))->status, 502);
  EXPECT_EQ(tables.list("alice", true).size(), 0U);
  idempotency.fail_next = "complete";
  EXPECT_EQ(send(post("k1"))->status, 201);
  EXPECT_EQ(tables.list("alice", true).size(), 1U);
}

TEST_F(IdempotencyTest, ChangesAndImportsHonourTheKeyToo) {
  const std::string id = create("breakout");
  const Call pause{
      .method = "POST", .path = "/rules/" + id + "/pause", .headers = {{"idempotency-key", "p"}}};
  EXPECT_EQ(send(pause)->status, 200);
  EXPECT_EQ(send(pause)->status, 200);  // a replay, not a conflict
  const Call import{.method = "POST",
                    .path = "/rules/import",
                    .body = "{\"rules\":3}",
                    .headers = {{"idempotency-key", "i"}}};
  EXPECT_EQ(send(import)->status, 422);
  EXPECT_EQ(send(import)->headers["Idempotent-Replayed"], "true");
}

TEST(HeaderLines, RoundTrip) {
  const std::vector<std::pair<std::string, std::string>> headers{{"ETag", "\"1\""}, {"Location", "/rules/x"}};
  EXPECT_EQ(parse_header_lines(header_lines(headers)), headers);
  EXPECT_EQ(parse_header_lines("no colon\nA: b"),
            (std::vector<std::pair<std::string, std::string>>{{"A", "b"}}));
}

}  // namespace
}  // namespace tap::api
