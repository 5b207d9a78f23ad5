// TarWriter: a minimal in-memory ustar archive writer, for uploading small
// files (credentials) into a container through PUT /containers/{id}/archive.
// Regular files and directories only. Not synchronised (one per archive).
#pragma once

#include <cstdint>
#include <string>

#include "provisioner/status.h"

namespace darasa::providers::docker {

class TarWriter {
 public:
  // Paths are relative ("etc/darasa/user"); a path longer than ustar can hold
  // (155 + 100 bytes, split at a '/') is kInvalid.
  Status addDirectory(const std::string& path, uint32_t mode, uint32_t uid = 0, uint32_t gid = 0);
  Status addFile(const std::string& path, const std::string& content, uint32_t mode, uint32_t uid = 0,
                 uint32_t gid = 0);
  // The modification time of the entries added after this (default: the
  // epoch, which keeps archives reproducible).
  void setMtime(int64_t secondsSinceEpoch) { mtime_ = secondsSinceEpoch; }
  // The archive, closed by two zero blocks. The writer is empty afterwards.
  std::string finish();

 private:
  Status addEntry(const std::string& path, char type, const std::string& content, uint32_t mode, uint32_t uid,
                  uint32_t gid);
  std::string data_;
  int64_t mtime_ = 0;
};

}  // namespace darasa::providers::docker
