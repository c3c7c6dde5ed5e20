// The DeadLetters port on SQS: a rejected message body goes to the dead-letter queue with its rejection
// reason and source message id as message attributes.
#pragma once

#include <string>

#include "tap/app/ports.hpp"
#include "tap/aws/sqs.hpp"

namespace tap {

class SqsDeadLetters final : public DeadLetters {
 public:
  SqsDeadLetters(sqs::Client& client, std::string queue_url);
  Result<std::string, AwsError> send(const std::string& body, const std::string& reason,
                                     const std::string& source_message_id, Deadline deadline) override;

 private:
  sqs::Client& client_;
  std::string queue_url_;
};

}  // namespace tap
