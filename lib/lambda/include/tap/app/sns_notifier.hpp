// The Notifier port on SNS: one Publish per notification to the alerts topic, MessageStructure=json (F5).
#pragma once

#include <string>

#include "tap/app/ports.hpp"
#include "tap/aws/sns.hpp"

namespace tap {

class SnsNotifier final : public Notifier {
 public:
  SnsNotifier(sns::Client& client, std::string topic_arn);
  Result<std::string, AwsError> publish(const SnsNotification& notification, Deadline deadline) override;

 private:
  sns::Client& client_;
  std::string topic_arn_;
};

}  // namespace tap
