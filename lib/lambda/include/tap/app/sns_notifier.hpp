// The Notifier port on SNS: the alerts topic, MessageStructure=json (F5). One notification is a Publish,
// several a PublishBatch (up to kMaxNotifyBatch entries). Thread-safe (the client and its transport are).
#pragma once

#include <string>

#include "tap/app/ports.hpp"
#include "tap/aws/sns.hpp"

namespace tap {

class SnsNotifier final : public Notifier {
 public:
  SnsNotifier(sns::Client& client, std::string topic_arn);
  Result<std::string, AwsError> publish(const SnsNotification& notification, Deadline deadline) override;
  std::vector<Result<std::string, AwsError>> publish_batch(std::span<const SnsNotification> notifications,
                                                           Deadline deadline) override;

 private:
  [[nodiscard]] sns::Publish request(const SnsNotification& notification) const;

  sns::Client& client_;
  std::string topic_arn_;
};

}  // namespace tap
