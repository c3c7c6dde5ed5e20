// SNS Publish and PublishBatch over the query protocol (Action=Publish|PublishBatch&Version=2010-03-31).
// PublishBatch sends up to kMaxPublishBatch messages to one topic in one request; each entry succeeds or
// fails on its own. IAM authorises it as sns:Publish (the SNS developer guide's API permissions reference).
#pragma once

#include <cstddef>
#include <span>
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

inline constexpr std::size_t kMaxPublishBatch = 10;  // entries per PublishBatch request (an SNS limit)

// The PublishBatch body: the topic of the first entry, entry i has the Id "<i>" (indices into `entries`).
std::string render_batch(std::span<const Publish> entries, std::span<const std::size_t> indices);
// One entry's outcome in a PublishBatchResult: Id, and MessageId or the error (Code, Message, SenderFault).
struct BatchEntryOutcome {
  std::string id;
  std::string message_id;  // empty: failed
  std::string code;
  std::string message;
  bool sender_fault = false;
};
Result<std::vector<BatchEntryOutcome>> parse_batch_result(std::string_view xml_body);

// Per entry of a batch: its MessageId, or the error that failed it.
using EntryResults = std::vector<Result<std::string, AwsError>>;

class Client {
 public:
  Client(AwsTransport& transport, std::string endpoint, std::string region);
  Result<std::string, AwsError> publish(const Publish& request, Deadline deadline);  // the MessageId
  // At most kMaxPublishBatch entries, all to the first entry's topic. The request is retried like any call;
  // entries failed by the service's side (SenderFault false) are sent again under the same policy and
  // deadline, those failed by ours are final. One outcome per entry, in order; a request that failed as a
  // whole (or an answer that does not account for every entry) fails every entry still unsent with its error.
  EntryResults publish_batch(std::span<const Publish> entries, Deadline deadline);

 private:
  ServiceClient service_;
};

}  // namespace tap::sns
