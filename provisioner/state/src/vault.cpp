#include "provisioner/vault.h"

#include <crypt.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace darasa {
namespace fs = std::filesystem;

static_assert(Vault::kKeyBytes == crypto_secretbox_KEYBYTES);

namespace {

constexpr unsigned char kBlobFormat = 1;
// No 0/O, 1/l/I: trainees type these from a projector.
constexpr std::string_view kPasswordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
constexpr size_t kPasswordLength = 20;
constexpr std::string_view kSaltAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr size_t kSaltLength = 16;

Status sodiumReady() {
  static const int rc = sodium_init();  // thread-safe once; 1 = already initialised
  if (rc < 0) return internalError("libsodium cannot initialise (no entropy source?)");
  return Status::ok();
}

std::string errnoText() { return std::strerror(errno); }

std::string modeText(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

bool readAll(int fd, unsigned char* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::read(fd, buf + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    done += static_cast<size_t>(r);
  }
  return true;
}

bool writeAll(int fd, const unsigned char* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = ::write(fd, buf + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    done += static_cast<size_t>(w);
  }
  return true;
}

// Reads an existing key file, refusing one that others could read or that
// is not a darasa key. The file is never changed here.
Status readKey(int fd, const fs::path& file, unsigned char* key) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return internalError("cannot stat key file " + file.string() + ": " + errnoText());
  if (!S_ISREG(st.st_mode)) return invalidError("key file " + file.string() + " is not a regular file");
  if ((st.st_mode & 077) != 0)
    return deniedError("key file " + file.string() + " is accessible by group or others (mode " +
                       modeText(st.st_mode) + "); run `chmod 600 " + file.string() + "`");
  if (st.st_size != static_cast<off_t>(Vault::kKeyBytes))
    return invalidError("key file " + file.string() + " has " + std::to_string(st.st_size) +
                        " bytes, a darasa key has " + std::to_string(Vault::kKeyBytes) +
                        "; it was not changed (is it the right file?)");
  if (!readAll(fd, key, Vault::kKeyBytes)) return internalError("cannot read key file " + file.string());
  return Status::ok();
}

Status makeParent(const fs::path& file) {
  fs::path parent = file.parent_path();
  if (parent.empty()) return Status::ok();
  std::error_code ec;
  if (fs::is_directory(parent, ec)) return Status::ok();
  if (!parent.parent_path().empty()) fs::create_directories(parent.parent_path(), ec);
  if (::mkdir(parent.c_str(), 0700) != 0 && errno != EEXIST)
    return deniedError("cannot create directory " + parent.string() + " for the key: " + errnoText());
  return Status::ok();
}

// Writes a fresh key to a private temporary file, then links it into place:
// link() fails if the name exists, so of two processes creating the key at
// once exactly one wins and nobody ever reads a half-written key.
// Returns true when this call created the key, false when another did.
Result<bool> createKey(const fs::path& file, unsigned char* key) {
  unsigned char tag[6];
  randombytes_buf(tag, sizeof tag);
  char hex[sizeof tag * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, tag, sizeof tag);
  fs::path tmp = file.string() + ".tmp-" + std::to_string(::getpid()) + "-" + hex;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return deniedError("cannot create key file " + file.string() + ": " + errnoText());
  // The umask can only take bits away, but say exactly what we mean.
  ::fchmod(fd, 0600);
  randombytes_buf(key, Vault::kKeyBytes);
  bool ok = writeAll(fd, key, Vault::kKeyBytes) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return internalError("cannot write key file " + file.string() + ": " + errnoText());
  }
  int rc = ::link(tmp.c_str(), file.c_str());
  int linkErrno = errno;
  ::unlink(tmp.c_str());
  if (rc == 0) return true;
  if (linkErrno == EEXIST) return false;
  return deniedError("cannot create key file " + file.string() + ": " + std::strerror(linkErrno));
}

void putU32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

// SSH wire "string": uint32 length, then the bytes (RFC 4251 section 5).
void putString(std::string& out, std::string_view s) {
  putU32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

std::string_view bytes(const unsigned char* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

std::string base64(std::string_view bin) {
  std::string out(sodium_base64_ENCODED_LEN(bin.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()), bin.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

void wipe(std::string& s) {
  sodium_memzero(s.data(), s.size());
  s.clear();
}

// The OpenSSH private key file for an Ed25519 pair ("openssh-key-v1",
// PROTOCOL.key in OpenSSH's sources), unencrypted: cipher and kdf "none".
std::string openSshPrivateKey(const unsigned char* pk, const unsigned char* sk, const std::string& comment) {
  std::string pubBlob;
  putString(pubBlob, "ssh-ed25519");
  putString(pubBlob, bytes(pk, crypto_sign_PUBLICKEYBYTES));

  std::string priv;
  uint32_t check = randombytes_random();
  putU32(priv, check);  // twice the same: a decryption check when encrypted
  putU32(priv, check);
  putString(priv, "ssh-ed25519");
  putString(priv, bytes(pk, crypto_sign_PUBLICKEYBYTES));
  putString(priv, bytes(sk, crypto_sign_SECRETKEYBYTES));  // seed || public key, as OpenSSH keeps it
  putString(priv, comment);
  for (unsigned char pad = 1; priv.size() % 8 != 0; ++pad) priv.push_back(static_cast<char>(pad));

  std::string blob("openssh-key-v1", 15);  // with its NUL
  putString(blob, "none");
  putString(blob, "none");
  putString(blob, "");
  putU32(blob, 1);
  putString(blob, pubBlob);
  putString(blob, priv);
  wipe(priv);

  std::string b64 = base64(blob);
  wipe(blob);
  std::string pem = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
  for (size_t i = 0; i < b64.size(); i += 70) pem += b64.substr(i, 70) + "\n";
  pem += "-----END OPENSSH PRIVATE KEY-----\n";
  wipe(b64);
  return pem;
}

std::string openSshPublicKey(const unsigned char* pk, const std::string& comment) {
  std::string blob;
  putString(blob, "ssh-ed25519");
  putString(blob, bytes(pk, crypto_sign_PUBLICKEYBYTES));
  std::string line = "ssh-ed25519 " + base64(blob);
  if (!comment.empty()) line += " " + comment;
  return line;
}

std::string randomFrom(std::string_view alphabet, size_t n) {
  std::string out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i)
    out.push_back(alphabet[randombytes_uniform(static_cast<uint32_t>(alphabet.size()))]);
  return out;
}

}  // namespace

// ---- Vault

Result<Vault> Vault::open(const fs::path& keyFile) {
  Status s = sodiumReady();
  if (!s) return s;
  Vault v;
  v.keyFile_ = keyFile;
  for (int attempt = 0; attempt < 2; ++attempt) {
    int fd = ::open(keyFile.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      s = readKey(fd, keyFile, v.key_.data());
      ::close(fd);
      if (!s) return s;
      return v;
    }
    if (errno != ENOENT) return deniedError("cannot open key file " + keyFile.string() + ": " + errnoText());
    s = makeParent(keyFile);
    if (!s) return s;
    auto created = createKey(keyFile, v.key_.data());
    if (!created) return created.status();
    if (*created) return v;
    // Another process created it first: read theirs.
  }
  return internalError("key file " + keyFile.string() + " keeps disappearing");
}

Vault::Vault(Vault&& other) noexcept : keyFile_(std::move(other.keyFile_)), key_(other.key_) {
  sodium_memzero(other.key_.data(), other.key_.size());
}

Vault& Vault::operator=(Vault&& other) noexcept {
  if (this != &other) {
    keyFile_ = std::move(other.keyFile_);
    key_ = other.key_;
    sodium_memzero(other.key_.data(), other.key_.size());
  }
  return *this;
}

Vault::~Vault() { sodium_memzero(key_.data(), key_.size()); }

std::string Vault::encrypt(const Secret& plain) const {
  const std::string& m = plain.reveal();
  std::string blob(1 + crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + m.size(), '\0');
  auto* out = reinterpret_cast<unsigned char*>(blob.data());
  out[0] = kBlobFormat;
  unsigned char* nonce = out + 1;
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES, reinterpret_cast<const unsigned char*>(m.data()),
                        m.size(), nonce, key_.data());
  return blob;
}

Result<Secret> Vault::decrypt(std::string_view blob) const {
  const Status bad = internalError("cannot decrypt: wrong key or corrupted");
  constexpr size_t kOverhead = 1 + crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES;
  if (blob.size() < kOverhead || static_cast<unsigned char>(blob[0]) != kBlobFormat) return bad;
  const auto* in = reinterpret_cast<const unsigned char*>(blob.data());
  const unsigned char* nonce = in + 1;
  const unsigned char* cipher = nonce + crypto_secretbox_NONCEBYTES;
  const size_t cipherLen = blob.size() - 1 - crypto_secretbox_NONCEBYTES;
  std::string plain(cipherLen - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()), cipher, cipherLen, nonce,
                                 key_.data()) != 0)
    return bad;
  return Secret(std::move(plain));
}

// ---- credentials

LabCredentials toLabCredentials(const CredentialSet& c) {
  LabCredentials l;
  l.user = c.user;
  l.password = c.password;
  l.passwordHash = c.passwordHash;
  l.authorizedKey = c.publicKey;
  return l;
}

Result<std::string> hashPassword(const Secret& password) {
  Status s = sodiumReady();
  if (!s) return s;
  // rounds=1000, the least SHA-crypt allows: key stretching protects
  // passwords people choose; ours are 20 random characters (~116 bits), which
  // no number of rounds makes weaker or stronger in practice, and the default
  // 5000 rounds made hashing the largest cost of provisioning a lab.
  const std::string setting = "$6$rounds=1000$" + randomFrom(kSaltAlphabet, kSaltLength);
  auto data = std::make_unique<crypt_data>();  // ~32 KiB: not on the stack
  const char* out = crypt_rn(password.reveal().c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  std::string hash = out ? out : "";
  sodium_memzero(data.get(), sizeof(crypt_data));
  if (hash.rfind("$6$", 0) != 0) return internalError("crypt(3) cannot make SHA-512 password hashes here");
  return hash;
}

bool verifyPassword(const Secret& password, const std::string& hash) {
  if (hash.empty() || hash[0] == '*') return false;
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.reveal().c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  bool ok = out && std::strlen(out) == hash.size() && sodium_memcmp(out, hash.data(), hash.size()) == 0;
  sodium_memzero(data.get(), sizeof(crypt_data));
  return ok;
}

Result<CredentialSet> generateCredentials(const std::string& user, const std::string& comment) {
  Status s = sodiumReady();
  if (!s) return s;
  CredentialSet c;
  c.user = user;
  c.password = Secret(randomFrom(kPasswordAlphabet, kPasswordLength));
  auto hash = hashPassword(c.password);
  if (!hash) return hash.status();
  c.passwordHash = std::move(*hash);

  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  if (crypto_sign_keypair(pk, sk) != 0) return internalError("cannot make an Ed25519 key pair");
  c.privateKey = Secret(openSshPrivateKey(pk, sk, comment));
  c.publicKey = openSshPublicKey(pk, comment);
  sodium_memzero(sk, sizeof sk);
  return c;
}

}  // namespace darasa
