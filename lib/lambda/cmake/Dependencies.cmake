# Third-party code compiled into the binary, from Debian's source packages (scripts/fetch-deb-source.sh),
# so that the host build and the arm64 cross build use exactly the same sources.
find_package(OpenSSL REQUIRED)

set(_simdjson_dir ${TAP_DEPS_DIR}/simdjson/singleheader)
if(NOT EXISTS ${_simdjson_dir}/simdjson.cpp)
  message(FATAL_ERROR "simdjson source not found in ${TAP_DEPS_DIR}; run scripts/fetch-deb-source.sh "
                      "${TAP_DEPS_DIR} simdjson cpp-httplib (make does this for you)")
endif()
add_library(tap_simdjson STATIC ${_simdjson_dir}/simdjson.cpp)
target_include_directories(tap_simdjson SYSTEM PUBLIC ${_simdjson_dir})
# Exceptions stay out of the library's API (we use its error codes); -O2 even in coverage/debug builds.
target_compile_definitions(tap_simdjson PUBLIC SIMDJSON_EXCEPTIONS=0)
target_compile_options(tap_simdjson PRIVATE -O2 -w)
add_library(tap::simdjson ALIAS tap_simdjson)

set(_httplib_dir ${TAP_DEPS_DIR}/cpp-httplib)
if(NOT EXISTS ${_httplib_dir}/httplib.h)
  message(FATAL_ERROR "cpp-httplib source not found in ${TAP_DEPS_DIR}")
endif()
add_library(tap_httplib INTERFACE)
target_include_directories(tap_httplib SYSTEM INTERFACE ${_httplib_dir})
target_compile_definitions(tap_httplib INTERFACE CPPHTTPLIB_OPENSSL_SUPPORT)
target_link_libraries(tap_httplib INTERFACE OpenSSL::SSL OpenSSL::Crypto)
add_library(tap::httplib ALIAS tap_httplib)
