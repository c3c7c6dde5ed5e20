#include "tap/api/api_event.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <set>

#include "tap/core/base64.hpp"

namespace tap::api {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

Error event_error(std::string message) { return Error{"invalid_api_event", std::move(message)}; }

// Every object of the document has unique keys (simdjson's DOM keeps duplicates; a second value for a
// key must not be read past the first one's checks).
std::optional<std::string> duplicate_key(element value, const std::string& path) {
  if (value.type() == element_type::ARRAY) {
    std::size_t i = 0;
    const simdjson::dom::array items = value.get_array().value_unsafe();
    for (element item : items) {
      if (auto d = duplicate_key(item, path + "[" + std::to_string(i++) + "]")) return d;
    }
  } else if (value.type() == element_type::OBJECT) {
    std::set<std::string_view> keys;
    const object fields = value.get_object().value_unsafe();
    for (auto field : fields) {
      const std::string where = path.empty() ? std::string(field.key) : path + "." + std::string(field.key);
      if (!keys.insert(field.key).second) return where;
      if (auto d = duplicate_key(field.value, where)) return d;
    }
  }
  return std::nullopt;
}

// An optional field of `parent` that must be of `type` when present.
Result<std::optional<element>> field(object parent, std::string_view name, element_type type,
                                     const std::string& path) {
  element value;
  if (parent.at_key(name).get(value)) return std::optional<element>{};
  if (value.type() == element_type::NULL_VALUE) return std::optional<element>{};
  if (value.type() != type) return event_error(path + std::string(name) + ": wrong type");
  return std::optional<element>{value};
}

Result<std::string> string_field(object parent, std::string_view name, const std::string& path) {
  auto v = field(parent, name, element_type::STRING, path);
  if (!v) return v.error();
  if (!v.value()) return std::string();
  return std::string(v.value()->get_string().value_unsafe());
}

// A map of string values (headers, query, path parameters); `lower` lower-cases the names.
std::optional<Error> string_map(object parent, std::string_view name, const std::string& path, bool lower,
                                std::map<std::string, std::string>& out) {
  auto v = field(parent, name, element_type::OBJECT, path);
  if (!v) return v.error();
  if (!v.value()) return std::nullopt;
  const object entries = v.value()->get_object().value_unsafe();
  for (auto entry : entries) {
    if (entry.value.type() != element_type::STRING) {
      return event_error(path + std::string(name) + "." + std::string(entry.key) + ": wrong type");
    }
    std::string key(entry.key);
    if (lower) std::ranges::transform(key, key.begin(), [](unsigned char c) { return std::tolower(c); });
    out[key] = std::string(entry.value.get_string().value_unsafe());
  }
  return std::nullopt;
}

std::optional<Error> read_claims(object root, Claims& claims) {
  auto context = field(root, "requestContext", element_type::OBJECT, "");
  if (!context) return context.error();
  if (!context.value()) return std::nullopt;
  auto authorizer = field(context.value()->get_object().value_unsafe(), "authorizer", element_type::OBJECT,
                          "requestContext.");
  if (!authorizer) return authorizer.error();
  if (!authorizer.value()) return std::nullopt;
  auto jwt = field(authorizer.value()->get_object().value_unsafe(), "jwt", element_type::OBJECT,
                   "requestContext.authorizer.");
  if (!jwt) return jwt.error();
  if (!jwt.value()) return std::nullopt;
  const std::string path = "requestContext.authorizer.jwt.claims.";
  auto found = field(jwt.value()->get_object().value_unsafe(), "claims", element_type::OBJECT,
                     "requestContext.authorizer.jwt.");
  if (!found) return found.error();
  if (!found.value()) return std::nullopt;
  const object c = found.value()->get_object().value_unsafe();
  for (auto [name, out] : {std::pair{"sub", &claims.sub}, std::pair{"token_use", &claims.token_use},
                           std::pair{"client_id", &claims.client_id}, std::pair{"scope", &claims.scope}}) {
    auto text = string_field(c, name, path);
    if (!text) return text.error();
    *out = std::move(text).value();
  }
  element groups;
  if (c.at_key("cognito:groups").get(groups)) return std::nullopt;
  if (groups.type() == element_type::STRING) {
    claims.groups = parse_group_claim(groups.get_string().value_unsafe());
  } else if (groups.type() == element_type::ARRAY) {
    const simdjson::dom::array items = groups.get_array().value_unsafe();
    for (element g : items) {
      if (g.type() != element_type::STRING) return event_error(path + "cognito:groups: wrong type");
      claims.groups.emplace_back(g.get_string().value_unsafe());
    }
  } else if (groups.type() != element_type::NULL_VALUE) {
    return event_error(path + "cognito:groups: wrong type");
  }
  return std::nullopt;
}

}  // namespace

std::vector<std::string> parse_group_claim(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t end = std::min(text.find(' ', i), text.size());
    if (end > i) out.emplace_back(text.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

Result<ApiRequest> parse_api_event(std::string_view event) {
  simdjson::dom::parser parser;
  element root;
  // The depth bound needs an allocation of its own: should it fail (memory), the event is unread as well.
  auto read = parser.allocate(event.size() + 1, kMaxEventDepth);
  if (read == simdjson::SUCCESS) read = parser.parse(event.data(), event.size()).get(root);
  if (read) return event_error(std::string("the event is not JSON: ") + simdjson::error_message(read));
  if (root.type() != element_type::OBJECT) return event_error("the event is not a JSON object");
  if (auto d = duplicate_key(root, "")) return event_error(*d + ": duplicate key");
  const object top = root.get_object().value_unsafe();

  ApiRequest out;
  auto route_key = string_field(top, "routeKey", "");
  if (!route_key) return route_key.error();
  out.route_key = std::move(route_key).value();
  auto raw_path = string_field(top, "rawPath", "");
  if (!raw_path) return raw_path.error();
  out.raw_path = std::move(raw_path).value();
  auto context = field(top, "requestContext", element_type::OBJECT, "");
  if (!context) return context.error();
  if (!context.value()) return event_error("requestContext: missing");
  auto http =
      field(context.value()->get_object().value_unsafe(), "http", element_type::OBJECT, "requestContext.");
  if (!http) return http.error();
  if (!http.value()) return event_error("requestContext.http: missing");
  auto method = string_field(http.value()->get_object().value_unsafe(), "method", "requestContext.http.");
  if (!method) return method.error();
  out.method = std::move(method).value();
  if (out.method.empty()) return event_error("requestContext.http.method: missing");
  if (auto e = string_map(top, "pathParameters", "", false, out.path_parameters)) return *e;
  if (auto e = string_map(top, "queryStringParameters", "", false, out.query)) return *e;
  if (auto e = string_map(top, "headers", "", true, out.headers)) return *e;
  auto body = string_field(top, "body", "");
  if (!body) return body.error();
  auto encoded = field(top, "isBase64Encoded", element_type::BOOL, "");
  if (!encoded) return encoded.error();
  if (encoded.value() && encoded.value()->get_bool().value_unsafe()) {
    auto decoded = base64::decode(body.value());
    if (!decoded) return event_error("body: invalid base64");
    out.body = std::move(*decoded);
  } else {
    out.body = std::move(body).value();
  }
  if (auto e = read_claims(top, out.claims)) return *e;
  return out;
}

}  // namespace tap::api
