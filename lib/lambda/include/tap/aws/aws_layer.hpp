// The whole AWS layer wired from the environment, as the bootstrap needs it once per container: config,
// credentials, one HttplibClient (its connections live as long as the container), one RetryPolicy (its
// retry counter feeds the metrics) and the service clients.
#pragma once

#include <memory>

#include "tap/aws/aws_config.hpp"
#include "tap/aws/dynamodb.hpp"
#include "tap/aws/kms.hpp"
#include "tap/aws/sns.hpp"
#include "tap/aws/sqs.hpp"

namespace tap {

class AwsLayer {
 public:
  // Errors: MissingRegion, InvalidEndpoint, InvalidCaBundle, MissingCredentials (for /init/error).
  static Result<std::unique_ptr<AwsLayer>> from_env(const EnvLookup& env, RetryConfig retry = {});

  AwsLayer(AwsConfig config, Credentials credentials, RetryConfig retry);
  AwsLayer(const AwsLayer&) = delete;
  AwsLayer& operator=(const AwsLayer&) = delete;

  AwsConfig config;
  HttplibClient http;
  RetryPolicy retry;
  AwsTransport transport;
  dynamodb::Client dynamodb;
  sns::Client sns;
  sqs::Client sqs;
  kms::Client kms;  // the API's cursor key (docs/design.md, section 13)
};

}  // namespace tap
