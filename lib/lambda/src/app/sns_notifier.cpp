#include "tap/app/sns_notifier.hpp"

namespace tap {

SnsNotifier::SnsNotifier(sns::Client& client, std::string topic_arn)
    : client_(client), topic_arn_(std::move(topic_arn)) {}

sns::Publish SnsNotifier::request(const SnsNotification& notification) const {
  // Every subscriber gets the text for its protocol: SQS and HTTPS the JSON, e-mail and SMS the sentence.
  return {topic_arn_, sns_message_structure(notification), notification.subject, notification.attributes,
          true};
}

Result<std::string, AwsError> SnsNotifier::publish(const SnsNotification& notification, Deadline deadline) {
  return client_.publish(request(notification), deadline);
}

std::vector<Result<std::string, AwsError>> SnsNotifier::publish_batch(
    std::span<const SnsNotification> notifications, Deadline deadline) {
  if (notifications.size() == 1) return {publish(notifications.front(), deadline)};
  std::vector<sns::Publish> entries;
  for (const SnsNotification& n : notifications) entries.push_back(request(n));
  return client_.publish_batch(entries, deadline);
}

}  // namespace tap
