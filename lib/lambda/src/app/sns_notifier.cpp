#include "tap/app/sns_notifier.hpp"

namespace tap {

SnsNotifier::SnsNotifier(sns::Client& client, std::string topic_arn)
    : client_(client), topic_arn_(std::move(topic_arn)) {}

Result<std::string, AwsError> SnsNotifier::publish(const SnsNotification& notification, Deadline deadline) {
  // Every subscriber gets the text for its protocol: SQS and HTTPS the JSON, e-mail and SMS the sentence.
  return client_.publish(
      {topic_arn_, sns_message_structure(notification), notification.subject, notification.attributes, true},
      deadline);
}

}  // namespace tap
