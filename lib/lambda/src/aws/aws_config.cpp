#include "tap/aws/aws_config.hpp"

#include <cstdlib>
#include <filesystem>

#include "tap/aws/http_client.hpp"

namespace tap {

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

Result<AwsConfig> load_aws_config(const EnvLookup& env,
                                  const std::function<bool(const std::string&)>& file_exists) {
  AwsConfig config;
  if (auto region = env("AWS_REGION")) {
    config.region = *region;
  } else if (auto fallback = env("AWS_DEFAULT_REGION")) {
    config.region = *fallback;
  } else {
    return Error{"MissingRegion", "neither AWS_REGION nor AWS_DEFAULT_REGION is set"};
  }
  const auto global = env("AWS_ENDPOINT_URL");
  auto endpoint = [&](std::string_view service, std::string_view suffix) {
    if (auto specific = env(std::string("AWS_ENDPOINT_URL_") + std::string(suffix))) return *specific;
    if (global) return *global;
    return "https://" + std::string(service) + "." + config.region + ".amazonaws.com";
  };
  config.dynamodb_endpoint = endpoint("dynamodb", "DYNAMODB");
  config.sns_endpoint = endpoint("sns", "SNS");
  config.sqs_endpoint = endpoint("sqs", "SQS");
  config.kms_endpoint = endpoint("kms", "KMS");
  for (const std::string* url :
       {&config.dynamodb_endpoint, &config.sns_endpoint, &config.sqs_endpoint, &config.kms_endpoint}) {
    if (auto parsed = parse_endpoint(*url); !parsed.ok()) return parsed.error();
  }
  if (auto bundle = env("AWS_CA_BUNDLE")) {
    if (!file_exists(*bundle))
      return Error{"InvalidCaBundle", "AWS_CA_BUNDLE names a missing file: " + *bundle};
    config.ca_bundle = *bundle;
  } else {
    for (const char* candidate : {"/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs/ca-certificates.crt"}) {
      if (file_exists(candidate)) {
        config.ca_bundle = candidate;
        break;
      }
    }
  }
  return config;
}

Result<AwsConfig> load_aws_config(const EnvLookup& env) {
  return load_aws_config(env, [](const std::string& path) {
    std::error_code ec;
    return std::filesystem::is_regular_file(path, ec);
  });
}

Result<Credentials> load_credentials(const EnvLookup& env) {
  auto key = env("AWS_ACCESS_KEY_ID");
  auto secret = env("AWS_SECRET_ACCESS_KEY");
  if (!key || !secret) {
    return Error{"MissingCredentials", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set"};
  }
  return Credentials{*key, *secret, env("AWS_SESSION_TOKEN").value_or("")};
}

}  // namespace tap
