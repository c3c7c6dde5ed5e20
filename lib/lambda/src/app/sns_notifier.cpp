#include "tap/app/sns_notifier.hpp"

namespace tap {

SnsNotifier::SnsNotifier(sns::Client& client, std::string topic_arn)
    : client_(client), topic_arn_(std::move(topic_arn)) {}

Result<std::string, AwsError> SnsNotifier::publish(const SnsNotification& notification, Deadline deadline) {
  return client_.publish({topic_arn_, notification.message, notification.subject, notification.attributes},
                         deadline);
}

}  // namespace tap
