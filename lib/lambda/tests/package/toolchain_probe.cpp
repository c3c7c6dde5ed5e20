// Toolchain probe: one small program that links everything the function links (cpp-httplib with OpenSSL,
// simdjson On-Demand) and exercises it at run time: one HTTPS GET with certificate and host-name
// verification on, then an On-Demand parse of the response. Built for arm64 with the zig toolchain and run
// under qemu-aarch64 by tests/unit/test_package.py, it proves the Lambda TLS stack before `bootstrap` exists,
// and it stays as the cheapest check that the cross toolchain still works.
//
// Usage: toolchain_probe HOST PORT CA_BUNDLE PATH
// Prints one JSON line {"symbol":...,"price":...,"openssl":...} and exits 0; exits 1 with the reason
// otherwise.
#include <httplib.h>
#include <openssl/crypto.h>
#include <simdjson.h>

#include <cstdio>
#include <string>
#include <string_view>

namespace {

int Fail(const std::string& reason) {
  std::fprintf(stderr, "toolchain_probe: %s\n", reason.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) return Fail("usage: toolchain_probe HOST PORT CA_BUNDLE PATH");
  const std::string host = argv[1];
  const int port = std::stoi(argv[2]);

  httplib::SSLClient client(host, port);
  client.set_ca_cert_path(argv[3]);
  client.enable_server_certificate_verification(true);
  client.set_connection_timeout(10);
  client.set_read_timeout(10);
  const httplib::Result response = client.Get(argv[4]);
  if (!response) {
    return Fail("GET failed: " + httplib::to_string(response.error()) + " (verify result " +
                std::to_string(client.get_openssl_verify_result()) + ")");
  }
  if (response->status != 200) return Fail("HTTP status " + std::to_string(response->status));

  simdjson::ondemand::parser parser;
  const simdjson::padded_string body(response->body);
  simdjson::ondemand::document doc;
  if (const auto error = parser.iterate(body).get(doc)) return Fail(simdjson::error_message(error));
  std::string_view symbol;
  double price = 0;
  if (const auto error = doc["symbol"].get_string().get(symbol)) return Fail(simdjson::error_message(error));
  if (const auto error = doc["price"].get_double().get(price)) return Fail(simdjson::error_message(error));

  std::printf("{\"symbol\":\"%.*s\",\"price\":%.17g,\"openssl\":\"%s\"}\n", static_cast<int>(symbol.size()),
              symbol.data(), price, OpenSSL_version(OPENSSL_VERSION));
  return 0;
}
