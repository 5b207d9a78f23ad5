#include "docker/tar_writer.h"

#include <cstdio>
#include <cstring>

namespace darasa::providers::docker {

namespace {

constexpr size_t kBlock = 512;

// Writes `value` as zero-padded octal into field[0..width-1), NUL-terminated.
void putOctal(char* field, size_t width, uint64_t value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*llo", static_cast<int>(width - 1), static_cast<unsigned long long>(value));
  std::memcpy(field, buf, width - 1);  // callers keep values within the field
  field[width - 1] = '\0';
}

}  // namespace

Status TarWriter::addDirectory(const std::string& path, uint32_t mode, uint32_t uid, uint32_t gid) {
  std::string p = path;
  if (p.empty() || p.back() != '/') p += '/';
  return addEntry(p, '5', "", mode, uid, gid);
}

Status TarWriter::addFile(const std::string& path, const std::string& content, uint32_t mode, uint32_t uid,
                          uint32_t gid) {
  if (path.empty() || path.back() == '/') return invalidError("tar: \"" + path + "\" is not a file name");
  return addEntry(path, '0', content, mode, uid, gid);
}

Status TarWriter::addEntry(const std::string& path, char type, const std::string& content, uint32_t mode,
                           uint32_t uid, uint32_t gid) {
  if (path.empty() || path[0] == '/') return invalidError("tar: \"" + path + "\" must be a relative path");
  // ustar splits long names into prefix (155) + '/' + name (100).
  std::string prefix, name = path;
  if (name.size() > 100) {
    size_t cut = std::string::npos;
    for (size_t i = 0; i + 1 < path.size(); ++i) {
      if (path[i] == '/' && i <= 155 && path.size() - i - 1 <= 100) {
        cut = i;
        break;
      }
    }
    if (cut == std::string::npos) return invalidError("tar: path too long for ustar: " + path);
    prefix = path.substr(0, cut);
    name = path.substr(cut + 1);
  }

  char h[kBlock];
  std::memset(h, 0, sizeof h);
  std::memcpy(h + 0, name.data(), name.size());
  putOctal(h + 100, 8, mode & 07777);
  putOctal(h + 108, 8, uid);
  putOctal(h + 116, 8, gid);
  putOctal(h + 124, 12, content.size());
  putOctal(h + 136, 12, static_cast<uint64_t>(mtime_ > 0 ? mtime_ : 0));
  h[156] = type;
  std::memcpy(h + 257, "ustar", 6);  // magic with its NUL
  std::memcpy(h + 263, "00", 2);
  std::memcpy(h + 345, prefix.data(), prefix.size());

  // The checksum is computed with its own field as eight spaces.
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h + 148, 7, "%06o", sum);  // six digits, NUL, and the space stays
  h[155] = ' ';

  data_.append(h, kBlock);
  data_ += content;
  if (size_t rest = content.size() % kBlock) data_.append(kBlock - rest, '\0');
  return Status::ok();
}

std::string TarWriter::finish() {
  data_.append(2 * kBlock, '\0');
  std::string out;
  out.swap(data_);
  return out;
}

}  // namespace darasa::providers::docker
