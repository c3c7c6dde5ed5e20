// Configuration from the environment with the AWS SDK conventions (F9). The process environment is
// read in exactly one place (process_env); everything else takes an EnvLookup so that tests can fake it.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "tap/aws/credentials.hpp"
#include "tap/core/result.hpp"

namespace tap {

using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvLookup process_env();  // getenv; unset and empty are both "not set"

struct AwsConfig {
  std::string region;
  std::string dynamodb_endpoint;
  std::string sns_endpoint;
  std::string sqs_endpoint;
  std::string kms_endpoint;
  std::string ca_bundle;  // empty: none found (OpenSSL's defaults are used)
};

// AWS_REGION (fallback AWS_DEFAULT_REGION); AWS_ENDPOINT_URL_<SERVICE> over AWS_ENDPOINT_URL over
// https://<service>.<region>.amazonaws.com; AWS_CA_BUNDLE, else the first existing of the Amazon Linux 2023
// and Debian bundles.
Result<AwsConfig> load_aws_config(const EnvLookup& env,
                                  const std::function<bool(const std::string&)>& file_exists);
Result<AwsConfig> load_aws_config(const EnvLookup& env);  // with the real file system

// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (both required) / AWS_SESSION_TOKEN (optional).
Result<Credentials> load_credentials(const EnvLookup& env);

}  // namespace tap
