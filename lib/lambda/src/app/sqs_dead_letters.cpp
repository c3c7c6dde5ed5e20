#include "tap/app/sqs_dead_letters.hpp"

namespace tap {

SqsDeadLetters::SqsDeadLetters(sqs::Client& client, std::string queue_url)
    : client_(client), queue_url_(std::move(queue_url)) {}

Result<std::string, AwsError> SqsDeadLetters::send(const std::string& body, const std::string& reason,
                                                   const std::string& source_message_id, Deadline deadline) {
  // The reason travels as a message attribute so that operators (and the DLQ tool) see why without logs.
  return client_.send_message(
      {queue_url_, body, {{"RejectionReason", reason}, {"SourceMessageId", source_message_id}}}, deadline);
}

}  // namespace tap
