#include "tap/aws/http_client.hpp"

#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <mutex>
#include <vector>

namespace tap {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](unsigned char x, unsigned char y) { return std::tolower(x) == std::tolower(y); });
}

const std::string* find_header(const HeaderList& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return &value;
  }
  return nullptr;
}

// httplib takes (seconds, microseconds); never zero, which would mean "no timeout" for some calls.
std::pair<time_t, time_t> split_timeout(std::chrono::microseconds t) {
  if (t < std::chrono::microseconds(1000)) t = std::chrono::microseconds(1000);
  return {static_cast<time_t>(t.count() / 1000000), static_cast<time_t>(t.count() % 1000000)};
}

}  // namespace

const std::string* HttpRequest::header(std::string_view name) const { return find_header(headers, name); }

void HttpRequest::set_header(std::string_view name, std::string value) {
  remove_header(name);
  headers.emplace_back(std::string(name), std::move(value));
}

void HttpRequest::remove_header(std::string_view name) {
  std::erase_if(headers, [&](const auto& h) { return iequals(h.first, name); });
}

const std::string* HttpResponse::header(std::string_view name) const { return find_header(headers, name); }

std::string Endpoint::host_header() const {
  if (port == (tls ? 443 : 80)) return host;
  return host + ":" + std::to_string(port);
}

std::string Endpoint::origin() const {
  return std::string(tls ? "https://" : "http://") + host + ":" + std::to_string(port);
}

Result<Endpoint> parse_endpoint(std::string_view url) {
  Endpoint ep;
  if (url.starts_with("https://")) {
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    url.remove_prefix(7);
    ep.tls = false;
    ep.port = 80;
  } else {
    return Error{kInvalidEndpoint, "endpoint must start with http:// or https://: " + std::string(url)};
  }
  if (!url.empty() && url.back() == '/') url.remove_suffix(1);
  if (url.find_first_of("/?#@ []") != std::string_view::npos) {  // no paths, userinfo or IPv6 literals
    return Error{kInvalidEndpoint, "endpoint must be scheme://host[:port]: " + std::string(url)};
  }
  std::size_t colon = url.rfind(':');
  if (colon != std::string_view::npos) {
    std::string_view port = url.substr(colon + 1);
    int value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || ptr != port.data() + port.size() || value <= 0 || value > 65535) {
      return Error{kInvalidEndpoint, "invalid port in endpoint: " + std::string(url)};
    }
    ep.port = value;
    url = url.substr(0, colon);
  }
  if (url.empty()) return Error{kInvalidEndpoint, "endpoint without host"};
  ep.host = std::string(url);
  return ep;
}

struct HttplibClient::Impl {
  std::mutex mutex;  // guards `idle`; a connection taken out of it is its sender's alone
  std::map<std::string, std::vector<std::unique_ptr<httplib::Client>>> idle;  // by origin
};

HttplibClient::HttplibClient(HttpClientOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {}

HttplibClient::~HttplibClient() = default;

std::size_t HttplibClient::open_endpoints() const {
  const std::scoped_lock lock(impl_->mutex);
  return static_cast<std::size_t>(std::count_if(impl_->idle.begin(), impl_->idle.end(),
                                                [](const auto& entry) { return !entry.second.empty(); }));
}

std::size_t HttplibClient::idle_connections() const {
  const std::scoped_lock lock(impl_->mutex);
  std::size_t n = 0;
  for (const auto& [origin, clients] : impl_->idle) n += clients.size();
  return n;
}

Result<HttpResponse> HttplibClient::send(const HttpRequest& request, Deadline deadline) {
  auto endpoint = parse_endpoint(request.endpoint);
  if (!endpoint.ok()) return endpoint.error();
  const auto remaining = std::chrono::duration_cast<std::chrono::microseconds>(deadline - SteadyClock::now());
  if (remaining <= std::chrono::microseconds(0)) {
    return Error{kDeadlineExceeded, "no time left before the deadline to send to " + request.endpoint};
  }

  // An idle keep-alive connection of the endpoint, or a new one: one sender per connection at a time.
  const std::string origin = endpoint->origin();
  std::unique_ptr<httplib::Client> client;
  {
    const std::scoped_lock lock(impl_->mutex);
    auto& idle = impl_->idle[origin];
    if (!idle.empty()) {
      client = std::move(idle.back());
      idle.pop_back();
    }
  }
  if (!client) {
    client = std::make_unique<httplib::Client>(origin);
    client->set_keep_alive(true);
    client->set_url_encode(false);  // the path is already in its wire form (and signed as such)
    if (endpoint->tls) {
      client->enable_server_certificate_verification(true);
      if (!options_.ca_bundle.empty()) client->set_ca_cert_path(options_.ca_bundle);
    }
  }
  const auto connect =
      split_timeout(std::min<std::chrono::microseconds>(remaining, options_.connect_timeout));
  const auto io = split_timeout(remaining);
  client->set_connection_timeout(connect.first, connect.second);
  client->set_read_timeout(io.first, io.second);
  client->set_write_timeout(io.first, io.second);

  httplib::Request req;
  req.method = request.method;
  req.path = request.query.empty() ? request.path : request.path + "?" + request.query;
  for (const auto& [name, value] : request.headers) req.headers.emplace(name, value);
  req.body = request.body;

  httplib::Result res = client->send(req);
  if (!res) {
    const httplib::Error err = res.error();
    // The connection is dropped (not returned to the pool): it may be half-closed or mid-response.
    const std::string what = httplib::to_string(err) + " (" + request.method + " " + request.endpoint + ")";
    switch (err) {
      case httplib::Error::SSLServerVerification:
        return Error{kTlsVerificationFailed, "TLS server verification failed: " + what};
      case httplib::Error::ConnectionTimeout:
        return Error{kNetworkTimeout, "connect timed out: " + what};
      case httplib::Error::Read:
        // A read error after the deadline is the read timeout firing.
        if (SteadyClock::now() >= deadline) return Error{kNetworkTimeout, "read timed out: " + what};
        return Error{kNetworkError, what};
      default:
        return Error{kNetworkError, what};
    }
  }
  HttpResponse out;
  out.status = res->status;
  {
    const std::scoped_lock lock(impl_->mutex);
    impl_->idle[origin].push_back(std::move(client));
  }
  for (const auto& [name, value] : res->headers) out.headers.emplace_back(name, value);
  out.body = std::move(res->body);
  return out;
}

}  // namespace tap
