// Vault: encrypts secrets at rest with a key file (libsodium secretbox), and
// generates lab credentials (password + crypt(3) hash, Ed25519 SSH key pair).
// A Vault is immutable once open: its const methods are thread-safe.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <string_view>

#include "provisioner/model.h"
#include "provisioner/secret.h"
#include "provisioner/status.h"

namespace darasa {

// What a trainee is handed for one lab.
struct CredentialSet {
  std::string user;
  Secret password;           // "" when the template hands out no password
  std::string passwordHash;  // crypt(3) SHA-512, "$6$rounds=1000$<salt>$<hash>"
  Secret privateKey;         // OpenSSH private key, PEM ("-----BEGIN OPENSSH PRIVATE KEY-----")
  std::string publicKey;     // "ssh-ed25519 AAAA... <comment>"
};

// The part of a CredentialSet a provider injects into a lab at creation.
LabCredentials toLabCredentials(const CredentialSet& credentials);

class Vault {
 public:
  // Opens the key file, creating it (random key, mode 0600, parent directory
  // 0700 if missing) when it does not exist. An existing key file that is not
  // a regular file, has the wrong size, or is accessible by group or others is
  // an error (kDenied/kInvalid) and is left as it is.
  static Result<Vault> open(const std::filesystem::path& keyFile);

  Vault(Vault&& other) noexcept;
  Vault& operator=(Vault&& other) noexcept;
  Vault(const Vault&) = delete;
  Vault& operator=(const Vault&) = delete;
  ~Vault();  // wipes the key

  // A binary blob: format byte, random nonce, secretbox(ciphertext + MAC).
  // Encrypting the same secret twice gives different blobs.
  std::string encrypt(const Secret& plain) const;
  // kInternal "cannot decrypt: wrong key or corrupted" for a blob that was
  // not made by encrypt() with this key, or was altered.
  Result<Secret> decrypt(std::string_view blob) const;

  const std::filesystem::path& keyFile() const { return keyFile_; }

  static constexpr size_t kKeyBytes = 32;  // crypto_secretbox_KEYBYTES

 private:
  Vault() = default;
  std::filesystem::path keyFile_;
  std::array<unsigned char, kKeyBytes> key_{};
};

// Fresh credentials for `user`: a random 20-character password from an
// unambiguous alphabet (about 116 bits), its crypt(3) SHA-512 hash with a
// random salt, and an Ed25519 key pair (OpenSSH private key, unencrypted,
// whose public line ends with `comment`). kInternal only if the system's
// crypto fails. Thread-safe.
Result<CredentialSet> generateCredentials(const std::string& user, const std::string& comment);

// crypt(3) SHA-512 of password with a fresh random salt ("$6$rounds=1000$<16 chars>$...").
Result<std::string> hashPassword(const Secret& password);
// Whether password matches a crypt(3) hash (any method libcrypt knows).
bool verifyPassword(const Secret& password, const std::string& hash);

}  // namespace darasa
