// Content hashes used across darasa ("sha256:<hex>"). Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace darasa {

// "sha256:" + lower-case hex SHA-256 of data.
std::string contentHash(std::string_view data);

}  // namespace darasa
