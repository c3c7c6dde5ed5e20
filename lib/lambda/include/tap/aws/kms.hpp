// KMS over its JSON 1.1 protocol (X-Amz-Target TrentService.*): the two calls the API's cursor key needs
// (docs/design.md, section 13). GenerateDataKey makes a 256-bit data key under the stack's key and returns
// it in plain and encrypted; Decrypt recovers the plain key from the encrypted blob. Both bind the key to an
// encryption context (authenticated, not secret): a blob decrypts only under the context it was made with.
// Blobs and keys are raw bytes here; the wire carries them in base64.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tap/aws/aws_client.hpp"

namespace tap::kms {

using EncryptionContext = std::vector<std::pair<std::string, std::string>>;

struct GenerateDataKey {
  std::string key_id;  // the key's ARN, id or alias ("alias/...")
  EncryptionContext context;
};

struct Decrypt {
  std::string ciphertext;  // the blob GenerateDataKey returned
  std::string key_id;      // empty: KMS finds the key in the blob; set: the blob must be under this key
  EncryptionContext context;
};

struct DataKey {
  std::string plaintext;   // 32 bytes
  std::string ciphertext;  // the blob to store
  std::string key_arn;     // the key KMS used
};

std::string render(const GenerateDataKey& request);
std::string render(const Decrypt& request);
Result<DataKey> parse_data_key(std::string_view json_body);       // GenerateDataKey's response
Result<std::string> parse_plaintext(std::string_view json_body);  // Decrypt's response: the plain bytes

class Client {
 public:
  Client(AwsTransport& transport, std::string endpoint, std::string region);
  Result<DataKey, AwsError> generate_data_key(const GenerateDataKey& request, Deadline deadline);
  Result<std::string, AwsError> decrypt(const Decrypt& request, Deadline deadline);

 private:
  ServiceClient service_;
};

}  // namespace tap::kms
