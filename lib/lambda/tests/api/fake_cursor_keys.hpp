// Fakes of the cursor key ports (tap/app/cursor_key_ports.hpp) for the API's tests.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "tap/app/cursor_key_ports.hpp"

namespace tap::api {

// The rules table's cursor key items in memory; `rival` stores a key of its own just before an add of the
// same id, as a racing instance would.
class FakeKeyStore final : public CursorKeyStore {
 public:
  Result<std::vector<StoredCursorKey>, AwsError> list(Deadline) override {
    ++lists;
    if (fail_list) return make_aws_error("ProvisionedThroughputExceededException", "slow down");
    std::vector<StoredCursorKey> out;
    for (const auto& [id, key] : items) out.push_back(key);
    return out;
  }
  Result<bool, AwsError> add(const StoredCursorKey& key, Deadline) override {
    if (fail_add) return make_aws_error("InternalServerError", "down");
    if (auto it = rival.find(key.id); it != rival.end()) items.emplace(key.id, it->second);
    return items.emplace(key.id, key).second;
  }
  std::map<std::string, StoredCursorKey> items;
  std::map<std::string, StoredCursorKey> rival;
  int lists = 0;
  bool fail_list = false;
  bool fail_add = false;
};

// "KMS": the ciphertext is "enc:" + context key id + ":" + plaintext, so that a blob opens only under its
// own context, as KMS's authenticated context does.
class FakeDataKeys final : public DataKeys {
 public:
  Result<kms::DataKey, AwsError> generate(const kms::EncryptionContext& context, Deadline) override {
    ++generated;
    if (fail_generate) return make_aws_error("NotFoundException", "no key");
    const std::string plain(32, static_cast<char>('a' + generated));
    return kms::DataKey{plain, "enc:" + context.at(1).second + ":" + plain, "arn:key"};
  }
  Result<std::string, AwsError> decrypt(std::string_view ciphertext, const kms::EncryptionContext& context,
                                        Deadline) override {
    ++decrypted;
    EXPECT_EQ(context.at(0), (std::pair<std::string, std::string>{"purpose", "api-cursor"}));
    const std::string prefix = "enc:" + context.at(1).second + ":";
    if (!ciphertext.starts_with(prefix)) return make_aws_error("InvalidCiphertextException", "context");
    return std::string(ciphertext.substr(prefix.size()));
  }
  int generated = 0;
  int decrypted = 0;
  bool fail_generate = false;
};

}  // namespace tap::api
