#include "tap/aws/aws_layer.hpp"

namespace tap {

namespace {
AwsTransport make_transport(HttpClient* http, Credentials credentials, RetryPolicy* retry) {
  AwsTransport transport;
  transport.http = http;
  transport.credentials = std::move(credentials);
  transport.retry = retry;
  return transport;
}
}  // namespace

AwsLayer::AwsLayer(AwsConfig cfg, Credentials credentials, RetryConfig retry_config)
    : config(std::move(cfg)),
      http(HttpClientOptions{config.ca_bundle}),
      retry(retry_config),
      transport(make_transport(&http, std::move(credentials), &retry)),
      dynamodb(transport, config.dynamodb_endpoint, config.region),
      sns(transport, config.sns_endpoint, config.region),
      sqs(transport, config.sqs_endpoint, config.region),
      kms(transport, config.kms_endpoint, config.region) {}

Result<std::unique_ptr<AwsLayer>> AwsLayer::from_env(const EnvLookup& env, RetryConfig retry) {
  auto config = load_aws_config(env);
  if (!config.ok()) return config.error();
  auto credentials = load_credentials(env);
  if (!credentials.ok()) return credentials.error();
  return std::make_unique<AwsLayer>(std::move(config).value(), std::move(credentials).value(), retry);
}

}  // namespace tap
