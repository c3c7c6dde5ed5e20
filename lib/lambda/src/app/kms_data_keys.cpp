#include "tap/app/cursor_key_ports.hpp"

namespace tap {

KmsDataKeys::KmsDataKeys(kms::Client& client, std::string key_id)
    : client_(client), key_id_(std::move(key_id)) {}

Result<kms::DataKey, AwsError> KmsDataKeys::generate(const kms::EncryptionContext& context,
                                                     Deadline deadline) {
  return client_.generate_data_key({key_id_, context}, deadline);
}

Result<std::string, AwsError> KmsDataKeys::decrypt(std::string_view ciphertext,
                                                   const kms::EncryptionContext& context, Deadline deadline) {
  // The key id is given so that a blob made under another key is refused, not opened.
  return client_.decrypt({std::string(ciphertext), key_id_, context}, deadline);
}

}  // namespace tap
