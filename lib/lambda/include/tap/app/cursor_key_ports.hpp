// The ports behind the API's cursor keys (docs/design.md, section 13): where the encrypted keys are kept
// (CursorKeyStore: items of the rules table, rules_dynamodb.hpp) and the service that makes and opens them
// (DataKeys: KMS data keys under the stack's key, KmsDataKeys). The rotation policy that uses them is
// tap/api/cursor_keys.hpp; the plain keys never leave the process.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tap/aws/aws_error.hpp"
#include "tap/aws/kms.hpp"
#include "tap/core/deadline.hpp"
#include "tap/core/result.hpp"

namespace tap {

struct StoredCursorKey {
  std::string id;                   // the cursor's key id
  std::string ciphertext;           // the data key, encrypted under the stack's KMS key
  std::int64_t expires_at_seconds;  // after this no cursor made with it is valid (DynamoDB TTL removes it)
};

class CursorKeyStore {
 public:
  virtual ~CursorKeyStore() = default;
  // Every stored key (strongly consistent).
  virtual Result<std::vector<StoredCursorKey>, AwsError> list(Deadline deadline) = 0;
  // Stores `key` unless a key with its id exists: true when this call stored it.
  virtual Result<bool, AwsError> add(const StoredCursorKey& key, Deadline deadline) = 0;
};

class DataKeys {
 public:
  virtual ~DataKeys() = default;
  virtual Result<kms::DataKey, AwsError> generate(const kms::EncryptionContext& context,
                                                  Deadline deadline) = 0;
  virtual Result<std::string, AwsError> decrypt(std::string_view ciphertext,
                                                const kms::EncryptionContext& context, Deadline deadline) = 0;
};

// DataKeys on KMS: AES-256 data keys under `key_id` (the stack's key: ARN, id or alias).
class KmsDataKeys final : public DataKeys {
 public:
  KmsDataKeys(kms::Client& client, std::string key_id);
  Result<kms::DataKey, AwsError> generate(const kms::EncryptionContext& context, Deadline deadline) override;
  Result<std::string, AwsError> decrypt(std::string_view ciphertext, const kms::EncryptionContext& context,
                                        Deadline deadline) override;

 private:
  kms::Client& client_;
  std::string key_id_;
};

}  // namespace tap
