#include "tap/aws/aws_config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "tap/aws/aws_layer.hpp"
#include "tap/aws/http_client.hpp"

namespace tap {
namespace {

EnvLookup fake(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

auto files(std::set<std::string> existing) {
  return [existing = std::move(existing)](const std::string& path) { return existing.contains(path); };
}

TEST(AwsConfig, DefaultEndpointsFromTheRegion) {
  auto c = load_aws_config(fake({{"AWS_REGION", "eu-west-1"}}), files({}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->region, "eu-west-1");
  EXPECT_EQ(c->dynamodb_endpoint, "https://dynamodb.eu-west-1.amazonaws.com");
  EXPECT_EQ(c->sns_endpoint, "https://sns.eu-west-1.amazonaws.com");
  EXPECT_EQ(c->sqs_endpoint, "https://sqs.eu-west-1.amazonaws.com");
  EXPECT_EQ(c->kms_endpoint, "https://kms.eu-west-1.amazonaws.com");
  EXPECT_EQ(c->ca_bundle, "");
}

TEST(AwsConfig, RegionFallbackAndMissingRegion) {
  auto c = load_aws_config(fake({{"AWS_DEFAULT_REGION", "us-west-2"}}), files({}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->region, "us-west-2");
  auto both =
      load_aws_config(fake({{"AWS_DEFAULT_REGION", "us-west-2"}, {"AWS_REGION", "us-east-1"}}), files({}));
  EXPECT_EQ(both->region, "us-east-1");
  auto none = load_aws_config(fake({}), files({}));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, "MissingRegion");
}

TEST(AwsConfig, ServiceEndpointOverridesTheGlobalOne) {
  auto c = load_aws_config(fake({{"AWS_REGION", "us-east-1"},
                                 {"AWS_ENDPOINT_URL", "http://127.0.0.1:5000"},
                                 {"AWS_ENDPOINT_URL_SNS", "https://127.0.0.1:5443"}}),
                           files({}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->dynamodb_endpoint, "http://127.0.0.1:5000");
  EXPECT_EQ(c->sqs_endpoint, "http://127.0.0.1:5000");
  EXPECT_EQ(c->kms_endpoint, "http://127.0.0.1:5000");
  EXPECT_EQ(c->sns_endpoint, "https://127.0.0.1:5443");
  auto bad = load_aws_config(fake({{"AWS_REGION", "us-east-1"}, {"AWS_ENDPOINT_URL_SQS", "127.0.0.1:5000"}}),
                             files({}));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, kInvalidEndpoint);
}

TEST(AwsConfig, CaBundleFromTheEnvironmentOrTheFirstKnownFile) {
  const std::string al2023 = "/etc/pki/tls/certs/ca-bundle.crt";
  const std::string debian = "/etc/ssl/certs/ca-certificates.crt";
  auto env = fake({{"AWS_REGION", "us-east-1"}});
  EXPECT_EQ(load_aws_config(env, files({al2023, debian}))->ca_bundle, al2023);
  EXPECT_EQ(load_aws_config(env, files({debian}))->ca_bundle, debian);
  auto named = fake({{"AWS_REGION", "us-east-1"}, {"AWS_CA_BUNDLE", "/tmp/ca.pem"}});
  EXPECT_EQ(load_aws_config(named, files({"/tmp/ca.pem", al2023}))->ca_bundle, "/tmp/ca.pem");
  auto missing = load_aws_config(named, files({al2023}));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "InvalidCaBundle");
}

TEST(AwsConfig, RealEnvironmentAndFileSystem) {
  const auto pem = std::filesystem::temp_directory_path() / "tap-aws-config-test.pem";
  std::ofstream(pem) << "x";
  ::setenv("TAP_TEST_EMPTY", "", 1);
  ::setenv("TAP_TEST_SET", "v", 1);
  const EnvLookup env = process_env();
  EXPECT_EQ(env("TAP_TEST_SET"), "v");
  EXPECT_EQ(env("TAP_TEST_EMPTY"), std::nullopt);
  EXPECT_EQ(env("TAP_TEST_SURELY_UNSET"), std::nullopt);
  auto c = load_aws_config(fake({{"AWS_REGION", "us-east-1"}, {"AWS_CA_BUNDLE", pem.string()}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->ca_bundle, pem.string());
  auto dir = load_aws_config(fake({{"AWS_REGION", "us-east-1"}, {"AWS_CA_BUNDLE", "/tmp"}}));
  EXPECT_FALSE(dir.ok());  // a directory is not a bundle
  std::filesystem::remove(pem);
}

TEST(Credentials, FromTheEnvironment) {
  auto c = load_credentials(fake({{"AWS_ACCESS_KEY_ID", "AK"}, {"AWS_SECRET_ACCESS_KEY", "SK"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "AK");
  EXPECT_EQ(c->secret_access_key, "SK");
  EXPECT_EQ(c->session_token, "");
  auto t = load_credentials(
      fake({{"AWS_ACCESS_KEY_ID", "AK"}, {"AWS_SECRET_ACCESS_KEY", "SK"}, {"AWS_SESSION_TOKEN", "T"}}));
  EXPECT_EQ(t->session_token, "T");
  auto missing = load_credentials(fake({{"AWS_ACCESS_KEY_ID", "AK"}}));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "MissingCredentials");
  EXPECT_FALSE(load_credentials(fake({{"AWS_SECRET_ACCESS_KEY", "SK"}})).ok());
}

}  // namespace
}  // namespace tap

namespace tap {
namespace {

TEST(AwsLayer, WiredFromTheEnvironment) {
  auto layer = AwsLayer::from_env(fake({{"AWS_REGION", "eu-west-1"},
                                        {"AWS_ENDPOINT_URL", "http://127.0.0.1:1"},
                                        {"AWS_ACCESS_KEY_ID", "AK"},
                                        {"AWS_SECRET_ACCESS_KEY", "SK"},
                                        {"AWS_SESSION_TOKEN", "T"}}),
                                  RetryConfig{1, std::chrono::milliseconds(1), std::chrono::milliseconds(1),
                                              std::chrono::milliseconds(0)});
  ASSERT_TRUE(layer.ok()) << layer.error().message;
  AwsLayer& aws = *layer.value();
  EXPECT_EQ(aws.config.sqs_endpoint, "http://127.0.0.1:1");
  EXPECT_EQ(aws.transport.http, &aws.http);
  EXPECT_EQ(aws.transport.retry, &aws.retry);
  EXPECT_EQ(aws.transport.credentials.session_token, "T");
  EXPECT_EQ(aws.retry.config().max_attempts, 1);
  // Nothing listens on port 1: the call goes through the real client and fails as a network error.
  auto sent =
      aws.sqs.send_message({"http://127.0.0.1:1/q", "b", {}}, SteadyClock::now() + std::chrono::seconds(2));
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, kNetworkError);
  EXPECT_TRUE(sent.error().retryable);
}

TEST(AwsLayer, ReportsConfigurationErrors) {
  auto no_region = AwsLayer::from_env(fake({{"AWS_ACCESS_KEY_ID", "AK"}, {"AWS_SECRET_ACCESS_KEY", "SK"}}));
  ASSERT_FALSE(no_region.ok());
  EXPECT_EQ(no_region.error().code, "MissingRegion");
  auto no_keys = AwsLayer::from_env(fake({{"AWS_REGION", "us-east-1"}}));
  ASSERT_FALSE(no_keys.ok());
  EXPECT_EQ(no_keys.error().code, "MissingCredentials");
}

}  // namespace
}  // namespace tap
