#include "tap/aws/sqs.hpp"

#include "json.hpp"

namespace tap::sqs {

std::string render(const SendMessage& request) {
  using aws_json::quote;
  std::string out = "{\"QueueUrl\":" + quote(request.queue_url) + ",\"MessageBody\":" + quote(request.body);
  if (!request.string_attributes.empty()) {
    out.append(",\"MessageAttributes\":{");
    bool first = true;
    for (const auto& [name, value] : request.string_attributes) {
      if (!first) out.push_back(',');
      first = false;
      out.append(quote(name)).append(":{\"DataType\":\"String\",\"StringValue\":").append(quote(value));
      out.append("}");
    }
    out.append("}");
  }
  return out + "}";
}

Result<std::string> parse_message_id(std::string_view json_body) {
  simdjson::padded_string padded(json_body);
  simdjson::ondemand::document doc;
  std::string_view id;
  if (aws_json::parser().iterate(padded).get(doc) != simdjson::SUCCESS ||
      doc["MessageId"].get_string().get(id) != simdjson::SUCCESS || id.empty()) {
    return Error{"InvalidResponse", "SQS SendMessage response without MessageId"};
  }
  return std::string(id);
}

Client::Client(AwsTransport& transport, std::string endpoint, std::string region)
    : service_(transport, std::move(endpoint), std::move(region), "sqs", Protocol::kJson) {}

Result<std::string, AwsError> Client::send_message(const SendMessage& request, Deadline deadline) {
  auto response = service_.call(service_.json_request("AmazonSQS.SendMessage", render(request)), deadline);
  if (!response.ok()) return response.error();
  auto id = parse_message_id(response->body);
  if (!id.ok()) return make_aws_error(id.error().code, id.error().message);
  return std::move(id).value();
}

}  // namespace tap::sqs
