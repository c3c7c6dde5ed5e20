#include "tap/aws/kms.hpp"

#include "json.hpp"
#include "tap/core/base64.hpp"

namespace tap::kms {
namespace {

constexpr std::string_view kJson11 = "application/x-amz-json-1.1";

void append_context(std::string& out, const EncryptionContext& context) {
  if (context.empty()) return;
  out.append(",\"EncryptionContext\":{");
  bool first = true;
  for (const auto& [name, value] : context) {
    if (!first) out.push_back(',');
    first = false;
    out.append(aws_json::quote(name)).append(":").append(aws_json::quote(value));
  }
  out.push_back('}');
}

// A base64 member of a response object, decoded; nullopt when absent, not a string or not base64.
std::optional<std::string> blob(simdjson::ondemand::object& object, std::string_view name) {
  std::string_view text;
  if (object.find_field_unordered(name).get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
  return base64::decode(text);
}

}  // namespace

std::string render(const GenerateDataKey& request) {
  std::string out = "{\"KeyId\":" + aws_json::quote(request.key_id) + ",\"KeySpec\":\"AES_256\"";
  append_context(out, request.context);
  return out + "}";
}

std::string render(const Decrypt& request) {
  std::string out = "{\"CiphertextBlob\":\"" + base64::encode(request.ciphertext) + "\"";
  if (!request.key_id.empty()) out.append(",\"KeyId\":").append(aws_json::quote(request.key_id));
  append_context(out, request.context);
  return out + "}";
}

Result<DataKey> parse_data_key(std::string_view json_body) {
  simdjson::padded_string padded(json_body);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  const Error invalid{"InvalidResponse", "KMS GenerateDataKey response without a key"};
  if (aws_json::parser().iterate(padded).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(object) != simdjson::SUCCESS) {
    return invalid;
  }
  DataKey key;
  auto plaintext = blob(object, "Plaintext");
  auto ciphertext = blob(object, "CiphertextBlob");
  std::string_view arn;
  if (!plaintext || !ciphertext || plaintext->empty() || ciphertext->empty() ||
      object.find_field_unordered("KeyId").get_string().get(arn) != simdjson::SUCCESS) {
    return invalid;
  }
  key.plaintext = std::move(*plaintext);
  key.ciphertext = std::move(*ciphertext);
  key.key_arn = std::string(arn);
  return key;
}

Result<std::string> parse_plaintext(std::string_view json_body) {
  simdjson::padded_string padded(json_body);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  if (aws_json::parser().iterate(padded).get(doc) == simdjson::SUCCESS &&
      doc.get_object().get(object) == simdjson::SUCCESS) {
    auto plaintext = blob(object, "Plaintext");
    if (plaintext && !plaintext->empty()) return std::move(*plaintext);
  }
  return Error{"InvalidResponse", "KMS Decrypt response without a plaintext"};
}

Client::Client(AwsTransport& transport, std::string endpoint, std::string region)
    : service_(transport, std::move(endpoint), std::move(region), "kms", Protocol::kJson) {}

Result<DataKey, AwsError> Client::generate_data_key(const GenerateDataKey& request, Deadline deadline) {
  auto response = service_.call(
      service_.json_request("TrentService.GenerateDataKey", render(request), kJson11), deadline);
  if (!response.ok()) return response.error();
  auto key = parse_data_key(response->body);
  if (!key.ok()) return make_aws_error(key.error().code, key.error().message);
  return std::move(key).value();
}

Result<std::string, AwsError> Client::decrypt(const Decrypt& request, Deadline deadline) {
  auto response =
      service_.call(service_.json_request("TrentService.Decrypt", render(request), kJson11), deadline);
  if (!response.ok()) return response.error();
  auto plaintext = parse_plaintext(response->body);
  if (!plaintext.ok()) return make_aws_error(plaintext.error().code, plaintext.error().message);
  return std::move(plaintext).value();
}

}  // namespace tap::kms
