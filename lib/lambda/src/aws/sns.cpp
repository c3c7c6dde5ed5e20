#include "tap/aws/sns.hpp"

namespace tap::sns {
namespace {

// application/x-www-form-urlencoded as boto3 writes it (Python's urlencode: space -> '+'). AWS hashes the
// body as sent, but moto re-encodes the parsed form before checking the signature, so match it exactly.
std::string form_encode(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ' ') {
      out.push_back('+');
    } else {
      out.append(sigv4::uri_encode(std::string_view(&c, 1), false));
    }
  }
  return out;
}

void param(std::string& out, std::string_view name, std::string_view value) {
  if (!out.empty()) out.push_back('&');
  out.append(form_encode(name)).append("=").append(form_encode(value));
}

}  // namespace

std::string render(const Publish& request) {
  std::string out;
  param(out, "Action", "Publish");
  param(out, "Version", "2010-03-31");
  param(out, "TopicArn", request.topic_arn);
  param(out, "Message", request.message);
  if (request.json_structure) param(out, "MessageStructure", "json");
  if (!request.subject.empty()) param(out, "Subject", request.subject);
  int n = 0;
  for (const auto& [name, value] : request.string_attributes) {
    const std::string prefix = "MessageAttributes.entry." + std::to_string(++n);
    param(out, prefix + ".Name", name);
    param(out, prefix + ".Value.DataType", "String");
    param(out, prefix + ".Value.StringValue", value);
  }
  return out;
}

Result<std::string> parse_message_id(std::string_view xml_body) {
  std::string id = xml_text(xml_body, "MessageId");
  if (id.empty()) return Error{"InvalidResponse", "SNS Publish response without MessageId"};
  return id;
}

Client::Client(AwsTransport& transport, std::string endpoint, std::string region)
    : service_(transport, std::move(endpoint), std::move(region), "sns", Protocol::kQuery) {}

Result<std::string, AwsError> Client::publish(const Publish& request, Deadline deadline) {
  auto response = service_.call(service_.query_request(render(request)), deadline);
  if (!response.ok()) return response.error();
  auto id = parse_message_id(response->body);
  if (!id.ok()) return make_aws_error(id.error().code, id.error().message);
  return std::move(id).value();
}

}  // namespace tap::sns
