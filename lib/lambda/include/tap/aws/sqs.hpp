// SQS SendMessage over the JSON protocol (X-Amz-Target AmazonSQS.SendMessage), used for the DLQ.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tap/aws/aws_client.hpp"

namespace tap::sqs {

struct SendMessage {
  std::string queue_url;
  std::string body;
  std::vector<std::pair<std::string, std::string>> string_attributes;  // e.g. {"RejectionReason", "..."}
};

std::string render(const SendMessage& request);
Result<std::string> parse_message_id(std::string_view json_body);

class Client {
 public:
  Client(AwsTransport& transport, std::string endpoint, std::string region);
  Result<std::string, AwsError> send_message(const SendMessage& request, Deadline deadline);  // MessageId

 private:
  ServiceClient service_;
};

}  // namespace tap::sqs
