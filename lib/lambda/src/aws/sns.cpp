#include "tap/aws/sns.hpp"

#include <algorithm>
#include <optional>

namespace tap::sns {
namespace {

// application/x-www-form-urlencoded as boto3 writes it (Python's urlencode: space -> '+'). AWS hashes the
// body as sent, but moto re-encodes the parsed form before checking the signature, so match it exactly.
std::string form_encode(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ' ') {
      out.push_back('+');
    } else {
      out.append(sigv4::uri_encode(std::string_view(&c, 1), false));
    }
  }
  return out;
}

void param(std::string& out, std::string_view name, std::string_view value) {
  if (!out.empty()) out.push_back('&');
  out.append(form_encode(name)).append("=").append(form_encode(value));
}

void message_params(std::string& out, const std::string& prefix, const Publish& request) {
  param(out, prefix + "Message", request.message);
  if (request.json_structure) param(out, prefix + "MessageStructure", "json");
  if (!request.subject.empty()) param(out, prefix + "Subject", request.subject);
  int n = 0;
  for (const auto& [name, value] : request.string_attributes) {
    const std::string entry = prefix + "MessageAttributes.entry." + std::to_string(++n);
    param(out, entry + ".Name", name);
    param(out, entry + ".Value.DataType", "String");
    param(out, entry + ".Value.StringValue", value);
  }
}

// The <member> elements of the first <tag> section (empty when absent).
std::vector<std::string_view> members(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> out;
  std::string open(1, '<');
  open.append(tag).push_back('>');
  std::string close("</");
  close.append(tag).push_back('>');
  const std::size_t start = xml.find(open);
  const std::size_t end = xml.find(close);
  if (start == std::string_view::npos || end == std::string_view::npos || end < start) return out;
  std::string_view section = xml.substr(start, end - start);
  constexpr std::string_view kOpen = "<member>";
  constexpr std::string_view kClose = "</member>";
  for (std::size_t at = section.find(kOpen); at != std::string_view::npos; at = section.find(kOpen, at)) {
    const std::size_t stop = section.find(kClose, at);
    if (stop == std::string_view::npos) break;
    out.push_back(section.substr(at, stop - at));
    at = stop;
  }
  return out;
}

}  // namespace

std::string render(const Publish& request) {
  std::string out;
  param(out, "Action", "Publish");
  param(out, "Version", "2010-03-31");
  param(out, "TopicArn", request.topic_arn);
  message_params(out, "", request);
  return out;
}

Result<std::string> parse_message_id(std::string_view xml_body) {
  std::string id = xml_text(xml_body, "MessageId");
  if (id.empty()) return Error{"InvalidResponse", "SNS Publish response without MessageId"};
  return id;
}

std::string render_batch(std::span<const Publish> entries, std::span<const std::size_t> indices) {
  std::string out;
  param(out, "Action", "PublishBatch");
  param(out, "Version", "2010-03-31");
  param(out, "TopicArn", entries[indices.front()].topic_arn);
  int n = 0;
  for (const std::size_t i : indices) {
    const std::string prefix = "PublishBatchRequestEntries.member." + std::to_string(++n) + ".";
    param(out, prefix + "Id", std::to_string(i));
    message_params(out, prefix, entries[i]);
  }
  return out;
}

Result<std::vector<BatchEntryOutcome>> parse_batch_result(std::string_view xml_body) {
  if (xml_body.find("<PublishBatchResult>") == std::string_view::npos) {
    return Error{"InvalidResponse", "SNS PublishBatch response without PublishBatchResult"};
  }
  std::vector<BatchEntryOutcome> out;
  for (const std::string_view m : members(xml_body, "Successful")) {
    out.push_back({xml_text(m, "Id"), xml_text(m, "MessageId"), "", "", false});
  }
  for (const std::string_view m : members(xml_body, "Failed")) {
    out.push_back({xml_text(m, "Id"), "", xml_text(m, "Code"), xml_text(m, "Message"),
                   xml_text(m, "SenderFault") == "true"});
  }
  return out;
}

Client::Client(AwsTransport& transport, std::string endpoint, std::string region)
    : service_(transport, std::move(endpoint), std::move(region), "sns", Protocol::kQuery) {}

Result<std::string, AwsError> Client::publish(const Publish& request, Deadline deadline) {
  auto response = service_.call(service_.query_request(render(request)), deadline);
  if (!response.ok()) return response.error();
  auto id = parse_message_id(response->body);
  if (!id.ok()) return make_aws_error(id.error().code, id.error().message);
  return std::move(id).value();
}

}  // namespace tap::sns

namespace tap::sns {

EntryResults Client::publish_batch(std::span<const Publish> entries, Deadline deadline) {
  const AwsError unanswered =
      make_aws_error("InvalidResponse", "SNS PublishBatch response without this entry");
  EntryResults out(entries.size(), unanswered);
  std::vector<std::size_t> unsent(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) unsent[i] = i;
  for (int attempt = 1; !unsent.empty(); ++attempt) {
    auto response = service_.call(service_.query_request(render_batch(entries, unsent)), deadline);
    if (!response.ok()) {
      for (const std::size_t i : unsent) out[i] = response.error();
      break;
    }
    auto outcomes = parse_batch_result(response->body);
    if (!outcomes.ok()) {
      const AwsError invalid = make_aws_error(outcomes.error().code, outcomes.error().message);
      for (const std::size_t i : unsent) out[i] = invalid;
      break;
    }
    std::vector<std::size_t> again;
    std::optional<AwsError> retryable;
    for (const BatchEntryOutcome& o : outcomes.value()) {
      const auto sent = std::find_if(unsent.begin(), unsent.end(),
                                     [&o](std::size_t i) { return std::to_string(i) == o.id; });
      if (sent == unsent.end()) continue;  // not an entry of this request
      if (!o.message_id.empty()) {
        out[*sent] = o.message_id;
        continue;
      }
      AwsError error = make_aws_error(o.code, o.message, 0, !o.sender_fault);
      error.attempts = attempt;
      out[*sent] = error;
      if (error.retryable) {
        again.push_back(*sent);
        retryable = error;
      }
    }
    if (!retryable || !service_.backoff(*retryable, attempt, deadline)) break;
    unsent = std::move(again);
  }
  return out;
}

}  // namespace tap::sns
