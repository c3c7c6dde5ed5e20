// The real client against in-process servers on 127.0.0.1: plain HTTP, HTTPS with a CA made here, a peer
// that hangs up, a listener that never accepts (connect timeout), and slow responses (read timeout).
#include "tap/aws/http_client.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

namespace tap {
namespace {

using namespace std::chrono_literals;

Deadline in(std::chrono::milliseconds ms) { return SteadyClock::now() + ms; }

TEST(HttpMessage, HeadersAreCaseInsensitiveAndSetReplacesEveryValue) {
  HttpRequest r;
  r.headers = {{"X-A", "1"}, {"x-a", "2"}, {"B", "3"}};
  ASSERT_NE(r.header("X-a"), nullptr);
  EXPECT_EQ(*r.header("X-a"), "1");
  EXPECT_EQ(r.header("c"), nullptr);
  r.set_header("X-A", "9");
  EXPECT_EQ(r.headers, (HeaderList{{"B", "3"}, {"X-A", "9"}}));
  r.remove_header("b");
  EXPECT_EQ(r.headers.size(), 1U);
  HttpResponse resp;
  resp.headers = {{"Content-Type", "text/xml"}};
  EXPECT_EQ(*resp.header("content-type"), "text/xml");
  EXPECT_EQ(resp.header("x"), nullptr);
}

TEST(Endpoint, ParsesSchemeHostAndPort) {
  auto a = parse_endpoint("https://dynamodb.us-east-1.amazonaws.com");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->tls);
  EXPECT_EQ(a->port, 443);
  EXPECT_EQ(a->host_header(), "dynamodb.us-east-1.amazonaws.com");
  EXPECT_EQ(a->origin(), "https://dynamodb.us-east-1.amazonaws.com:443");
  auto b = parse_endpoint("http://127.0.0.1:5000/");
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->tls);
  EXPECT_EQ(b->port, 5000);
  EXPECT_EQ(b->host_header(), "127.0.0.1:5000");
  EXPECT_EQ(b->origin(), "http://127.0.0.1:5000");
  auto c = parse_endpoint("http://localhost");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->port, 80);
  EXPECT_EQ(c->host_header(), "localhost");
}

TEST(Endpoint, RejectsWhatIsNotSchemeHostPort) {
  for (const char* bad :
       {"ftp://x", "dynamodb.amazonaws.com", "https://h/path", "https://h?q", "https://u@h", "https://h:abc",
        "https://h:0", "https://h:70000", "https://h:80x", "https://", "https://:443", "https://[::1]:443"}) {
    auto r = parse_endpoint(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, kInvalidEndpoint) << bad;
  }
}

// An httplib::Server on an ephemeral port, in its own thread.
class LocalServer {
 public:
  explicit LocalServer(std::unique_ptr<httplib::Server> server) : server_(std::move(server)) {
    server_->Post("/echo", [this](const httplib::Request& req, httplib::Response& res) {
      ports_.push_back(req.remote_port);
      res.set_header("X-Seen-Target", req.get_header_value("X-Amz-Target"));
      res.set_content(req.method + " " + req.target + " " + req.body, "text/plain");
    });
    server_->Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(1500ms);
      res.set_content("late", "text/plain");
    });
    // Answers once two requests are in at the same time (or after 10 s, saying how many were).
    server_->Post("/pair", [this](const httplib::Request& req, httplib::Response& res) {
      std::unique_lock lock(pair_mutex_);
      pair_ports_.insert(req.remote_port);
      ++inside_;
      pair_cv_.notify_all();
      const bool met = pair_cv_.wait_for(lock, 10s, [this] { return inside_ >= 2 || paired_; });
      paired_ = paired_ || met;
      res.set_content(met ? "paired" : "alone", "text/plain");
    });
    server_->Post("/error", [](const httplib::Request&, httplib::Response& res) {
      res.status = 503;
      res.set_content("busy", "text/plain");
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    // bind_to_any_port already listens: connections queue until the accept loop runs.
  }
  ~LocalServer() {
    server_->stop();
    thread_.join();
  }
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] const std::vector<int>& ports() const { return ports_; }
  [[nodiscard]] std::set<int> pair_ports() {
    const std::scoped_lock lock(pair_mutex_);
    return pair_ports_;
  }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::vector<int> ports_;
  std::mutex pair_mutex_;
  std::condition_variable pair_cv_;
  int inside_ = 0;
  bool paired_ = false;
  std::set<int> pair_ports_;
};

HttpRequest echo(const std::string& endpoint) {
  HttpRequest r;
  r.endpoint = endpoint;
  r.path = "/echo";
  r.query = "a=1&b=%20";
  r.headers = {{"X-Amz-Target", "DynamoDB_20120810.UpdateItem"},
               {"Content-Type", "application/x-amz-json-1.0"}};
  r.body = "{}";
  return r;
}

TEST(HttplibClient, SendsOverHttpAndReusesTheConnection) {
  LocalServer server(std::make_unique<httplib::Server>());
  HttplibClient client({});
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(server.port());
  auto first = client.send(echo(endpoint), in(2000ms));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, "POST /echo?a=1&b=%20 {}");
  ASSERT_NE(first->header("x-seen-target"), nullptr);
  EXPECT_EQ(*first->header("x-seen-target"), "DynamoDB_20120810.UpdateItem");
  auto second = client.send(echo(endpoint), in(2000ms));
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(server.ports().size(), 2U);
  EXPECT_EQ(server.ports()[0], server.ports()[1]);  // same client socket: the connection was kept
  EXPECT_EQ(client.open_endpoints(), 1U);
}

TEST(HttplibClient, ConcurrentSendsTakeAPooledConnectionEachAndGiveItBack) {
  LocalServer server(std::make_unique<httplib::Server>());
  HttplibClient client({});
  HttpRequest r = echo("http://127.0.0.1:" + std::to_string(server.port()));
  r.path = "/pair";
  Result<HttpResponse> first = Error{"unset", ""};
  std::thread other([&] { first = client.send(r, in(15000ms)); });
  auto second = client.send(r, in(15000ms));
  other.join();
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_TRUE(second.ok()) << second.error().message;
  // Both were in flight at once, each on its own connection, and both connections are kept.
  EXPECT_EQ(first->body, "paired");
  EXPECT_EQ(second->body, "paired");
  EXPECT_EQ(server.pair_ports().size(), 2U);
  EXPECT_EQ(client.idle_connections(), 2U);
  EXPECT_EQ(client.open_endpoints(), 1U);
  // A later send reuses one of them.
  ASSERT_TRUE(client.send(r, in(15000ms)).ok());
  EXPECT_EQ(server.pair_ports().size(), 2U);
  EXPECT_EQ(client.idle_connections(), 2U);
}

TEST(HttplibClient, ErrorStatusesAreResponsesNotErrors) {
  LocalServer server(std::make_unique<httplib::Server>());
  HttplibClient client({});
  HttpRequest r = echo("http://127.0.0.1:" + std::to_string(server.port()));
  r.path = "/error";
  r.query.clear();
  auto res = client.send(r, in(2000ms));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 503);
}

TEST(HttplibClient, ReadTimeoutIsBoundedByTheDeadline) {
  LocalServer server(std::make_unique<httplib::Server>());
  HttplibClient client({});
  HttpRequest r;
  r.endpoint = "http://127.0.0.1:" + std::to_string(server.port());
  r.method = "GET";
  r.path = "/slow";
  const auto start = SteadyClock::now();
  auto res = client.send(r, in(100ms));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, kNetworkTimeout);
  EXPECT_LT(SteadyClock::now() - start, 1000ms);  // well before the server answers (1.5 s)
  // A tiny budget still gives a bounded (1 ms) timeout rather than "no timeout".
  auto tiny = client.send(r, in(std::chrono::milliseconds(0)) + std::chrono::microseconds(300));
  EXPECT_FALSE(tiny.ok());
}

TEST(HttplibClient, NoTimeLeftAndBadEndpointsFailBeforeSending) {
  HttplibClient client({});
  auto late = client.send(echo("http://127.0.0.1:1"), SteadyClock::now() - 1ms);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, kDeadlineExceeded);
  auto bad = client.send(echo("gopher://x"), in(1000ms));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, kInvalidEndpoint);
  EXPECT_EQ(client.open_endpoints(), 0U);
}

int listening_socket(int backlog, int* port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  listen(fd, backlog);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

TEST(HttplibClient, ConnectionRefusedAndPeerHangupAreNetworkErrors) {
  int port = 0;
  int fd = listening_socket(1, &port);
  close(fd);  // nothing listens there any more
  HttplibClient client({});
  auto refused = client.send(echo("http://127.0.0.1:" + std::to_string(port)), in(1000ms));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, kNetworkError);

  int hang_port = 0;
  int hang = listening_socket(4, &hang_port);
  std::thread peer([hang] {
    int c = accept(hang, nullptr, nullptr);
    // Reads the whole request (headers, then echo()'s two-byte body), then hangs up without answering:
    // the client's write has completed, so what fails is its read (a close with unread request bytes
    // would reset the connection and could fail the write instead).
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n{}") == std::string::npos) {
      const ssize_t n = read(c, buf, sizeof buf);
      if (n <= 0) break;
      request.append(buf, static_cast<std::size_t>(n));
    }
    close(c);
  });
  auto hung = client.send(echo("http://127.0.0.1:" + std::to_string(hang_port)), in(2000ms));
  peer.join();
  close(hang);
  ASSERT_FALSE(hung.ok());
  EXPECT_EQ(hung.error().code, kNetworkError);
  // A hang-up before the deadline is a network error, not the read timeout firing.
  EXPECT_EQ(hung.error().message.rfind("Read (", 0), 0U) << hung.error().message;  // httplib's name
  EXPECT_EQ(client.open_endpoints(), 0U);  // failed connections are not reused
}

TEST(HttplibClient, ConnectTimeoutWhenTheListenerNeverAccepts) {
  int port = 0;
  int fd = listening_socket(0, &port);
  // Fill the accept queue so that further SYNs are dropped and connects hang.
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(c);
  }
  std::this_thread::sleep_for(50ms);
  HttplibClient client({"", 200ms});
  auto res = client.send(echo("http://127.0.0.1:" + std::to_string(port)), in(1000ms));
  for (int c : fillers) close(c);
  close(fd);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, kNetworkTimeout) << res.error().message;
}

// ---- TLS: a CA and a server certificate for 127.0.0.1, made with OpenSSL here.
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

KeyPtr make_key() { return {EVP_EC_gen("P-256"), &EVP_PKEY_free}; }

CertPtr make_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, bool ca) {
  CertPtr cert(X509_new(), &X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ca ? 1 : 2);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const char* value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  };
  add(NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (ca) add(NID_key_usage, "critical,keyCertSign,cRLSign");
  if (!ca) add(NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  X509_sign(cert.get(), issuer_key, EVP_sha256());
  return cert;
}

void write_pem(const std::filesystem::path& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (cert != nullptr) PEM_write_X509(f, cert);
  if (key != nullptr) PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

class Tls : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tap-tls-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    auto ca_key = make_key();
    auto ca = make_cert(ca_key.get(), "tap test CA", nullptr, ca_key.get(), true);
    auto other_key = make_key();
    auto other_ca = make_cert(other_key.get(), "some other CA", nullptr, other_key.get(), true);
    auto key = make_key();
    auto cert = make_cert(key.get(), "127.0.0.1", ca.get(), ca_key.get(), false);
    write_pem(dir_ / "ca.pem", ca.get(), nullptr);
    write_pem(dir_ / "other.pem", other_ca.get(), nullptr);
    write_pem(dir_ / "cert.pem", cert.get(), nullptr);
    write_pem(dir_ / "key.pem", nullptr, key.get());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(Tls, VerifiesTheServerAgainstTheCaBundle) {
  LocalServer server(
      std::make_unique<httplib::SSLServer>((dir_ / "cert.pem").c_str(), (dir_ / "key.pem").c_str()));
  const std::string endpoint = "https://127.0.0.1:" + std::to_string(server.port());

  HttplibClient trusting({(dir_ / "ca.pem").string()});
  auto ok = trusting.send(echo(endpoint), in(3000ms));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->body, "POST /echo?a=1&b=%20 {}");
  ASSERT_TRUE(trusting.send(echo(endpoint), in(3000ms)).ok());
  EXPECT_EQ(server.ports()[0], server.ports()[1]);  // the TLS session was kept too

  HttplibClient other({(dir_ / "other.pem").string()});
  auto refused = other.send(echo(endpoint), in(3000ms));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, kTlsVerificationFailed);

  HttplibClient system_cas({});  // OpenSSL's default store does not know our test CA
  auto unknown = system_cas.send(echo(endpoint), in(3000ms));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, kTlsVerificationFailed);
}

}  // namespace
}  // namespace tap
