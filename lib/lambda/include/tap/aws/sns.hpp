// SNS Publish over the query protocol (Action=Publish&Version=2010-03-31).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tap/aws/aws_client.hpp"

namespace tap::sns {

struct Publish {
  std::string topic_arn;
  std::string message;  // with json_structure: {"default": ..., "<protocol>": ...}, every value a string
  std::string subject;  // empty: none
  std::vector<std::pair<std::string, std::string>> string_attributes;  // MessageAttributes, DataType String
  bool json_structure = false;  // MessageStructure=json: a text per subscriber protocol
};

std::string render(const Publish& request);                       // the form-encoded body
Result<std::string> parse_message_id(std::string_view xml_body);  // PublishResult/MessageId

class Client {
 public:
  Client(AwsTransport& transport, std::string endpoint, std::string region);
  Result<std::string, AwsError> publish(const Publish& request, Deadline deadline);  // the MessageId

 private:
  ServiceClient service_;
};

}  // namespace tap::sns
