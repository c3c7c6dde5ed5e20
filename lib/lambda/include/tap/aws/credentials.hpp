// AWS credentials: a plain struct handed to the signer. Read from the environment in one place (aws_config).
#pragma once

#include <string>

namespace tap {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys; Lambda always provides one
};

}  // namespace tap
