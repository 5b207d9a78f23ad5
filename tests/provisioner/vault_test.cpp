// The vault's key file, encryption, and generated credentials, checked with
// the real tools that will consume them (ssh-keygen, crypt(3)).
#include "provisioner/vault.h"

#include <crypt.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace darasa {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "darasa-vault-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t modeOf(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// Runs a shell command; returns its exit code and stdout+stderr.
std::pair<int, std::string> run(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return {-1, ""};
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class UmaskGuard {
 public:
  explicit UmaskGuard(mode_t m) : old_(::umask(m)) {}
  ~UmaskGuard() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST(VaultTest, TheKeyIsCreatedPrivateWhateverTheUmask) {
  TempDir dir;
  for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{0277}}) {
    UmaskGuard guard(mask);
    fs::path key = dir.path() / ("key-" + std::to_string(mask));
    auto vault = Vault::open(key);
    ASSERT_TRUE(vault.isOk()) << vault.status().toString();
    EXPECT_EQ(modeOf(key), 0600u) << "umask " << mask;
    EXPECT_EQ(fs::file_size(key), Vault::kKeyBytes);
  }
  // No temporary files are left behind.
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    EXPECT_THAT(e.path().filename().string(), StartsWith("key-"));
    ++files;
  }
  EXPECT_EQ(files, 3u);
}

TEST(VaultTest, ASecondOpenReusesTheKey) {
  TempDir dir;
  fs::path key = dir.path() / "state" / "vault.key";
  auto first = Vault::open(key);
  ASSERT_TRUE(first.isOk()) << first.status().toString();
  EXPECT_EQ(modeOf(key.parent_path()), 0700u);
  const std::string keyBytes = readFile(key);
  std::string blob = first->encrypt(Secret("correct horse"));

  auto second = Vault::open(key);
  ASSERT_TRUE(second.isOk());
  EXPECT_EQ(readFile(key), keyBytes);
  auto plain = second->decrypt(blob);
  ASSERT_TRUE(plain.isOk()) << plain.status().toString();
  EXPECT_EQ(plain->reveal(), "correct horse");
  EXPECT_EQ(second->keyFile(), key);
}

TEST(VaultTest, ProcessesOpeningAtOnceAgreeOnOneKey) {
  TempDir dir;
  fs::path key = dir.path() / "vault.key";
  constexpr int kThreads = 8;
  std::vector<std::string> blobs(kThreads);
  std::vector<Status> errors(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      auto v = Vault::open(key);
      if (!v) {
        errors[i] = v.status();
        return;
      }
      blobs[i] = v->encrypt(Secret("secret " + std::to_string(i)));
    });
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_TRUE(e.isOk()) << e.toString();
  auto vault = Vault::open(key);
  ASSERT_TRUE(vault.isOk());
  for (int i = 0; i < kThreads; ++i) {
    auto plain = vault->decrypt(blobs[i]);
    ASSERT_TRUE(plain.isOk()) << "blob " << i << " was made with another key";
    EXPECT_EQ(plain->reveal(), "secret " + std::to_string(i));
  }
}

TEST(VaultTest, AKeyFileOthersCanReadIsRefusedAndLeftAlone) {
  TempDir dir;
  fs::path key = dir.path() / "vault.key";
  ASSERT_TRUE(Vault::open(key).isOk());
  const std::string before = readFile(key);
  fs::permissions(key, fs::perms(0644));
  auto vault = Vault::open(key);
  ASSERT_FALSE(vault.isOk());
  EXPECT_EQ(vault.status().code(), Code::kDenied);
  EXPECT_EQ(vault.status().message(), "key file " + key.string() +
                                          " is accessible by group or others (mode 0644); run `chmod 600 " +
                                          key.string() + "`");
  EXPECT_EQ(readFile(key), before);
  EXPECT_EQ(modeOf(key), 0644u);
}

TEST(VaultTest, AKeyFileOfTheWrongSizeIsRefusedAndLeftAlone) {
  TempDir dir;
  fs::path key = dir.path() / "vault.key";
  {
    std::ofstream out(key);
    out << "not a key\n";
  }
  fs::permissions(key, fs::perms(0600));
  auto vault = Vault::open(key);
  ASSERT_FALSE(vault.isOk());
  EXPECT_EQ(vault.status().code(), Code::kInvalid);
  EXPECT_EQ(vault.status().message(), "key file " + key.string() +
                                          " has 10 bytes, a darasa key has 32; it was not changed (is it the "
                                          "right file?)");
  EXPECT_EQ(readFile(key), "not a key\n");
}

TEST(VaultTest, EncryptionRoundTripsAndDetectsTampering) {
  TempDir dir;
  auto vault = Vault::open(dir.path() / "k");
  ASSERT_TRUE(vault.isOk());
  const Secret secret("hunter2-but-longer");
  std::string a = vault->encrypt(secret), b = vault->encrypt(secret);
  EXPECT_NE(a, b);  // fresh nonce each time
  EXPECT_EQ(a.find(secret.reveal()), std::string::npos);
  EXPECT_EQ(vault->decrypt(a)->reveal(), secret.reveal());
  EXPECT_EQ(vault->decrypt(vault->encrypt(Secret()))->reveal(), "");

  for (size_t i = 0; i < a.size(); ++i) {
    std::string bad = a;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    auto r = vault->decrypt(bad);
    ASSERT_FALSE(r.isOk()) << "byte " << i;
    EXPECT_EQ(r.status().code(), Code::kInternal);
    EXPECT_EQ(r.status().message(), "cannot decrypt: wrong key or corrupted");
  }
  EXPECT_FALSE(vault->decrypt(a.substr(0, a.size() - 1)).isOk());
  EXPECT_FALSE(vault->decrypt("").isOk());

  auto other = Vault::open(dir.path() / "other");
  ASSERT_TRUE(other.isOk());
  auto wrongKey = other->decrypt(a);
  ASSERT_FALSE(wrongKey.isOk());
  EXPECT_EQ(wrongKey.status().message(), "cannot decrypt: wrong key or corrupted");
}

TEST(VaultTest, GeneratedPasswordsAreRandomAndTheirHashesAreCryptSha512) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    auto c = generateCredentials("trainee", "darasa:demo.alice");
    ASSERT_TRUE(c.isOk()) << c.status().toString();
    EXPECT_EQ(c->user, "trainee");
    const std::string& pw = c->password.reveal();
    EXPECT_THAT(pw, MatchesRegex("[a-km-zA-HJ-NP-Z2-9]{20}"));
    EXPECT_TRUE(seen.insert(pw).second);
    EXPECT_THAT(c->passwordHash, MatchesRegex("\\$6\\$rounds=1000\\$[./0-9A-Za-z]{16}\\$[./0-9A-Za-z]{86}"));
    // What a login would do: crypt the typed password with the stored setting.
    struct crypt_data data {};
    const char* again = crypt_r(pw.c_str(), c->passwordHash.c_str(), &data);
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(std::string(again), c->passwordHash);
    EXPECT_TRUE(verifyPassword(c->password, c->passwordHash));
    EXPECT_FALSE(verifyPassword(Secret(pw + "x"), c->passwordHash));
  }
  auto h1 = hashPassword(Secret("same")), h2 = hashPassword(Secret("same"));
  ASSERT_TRUE(h1.isOk() && h2.isOk());
  EXPECT_NE(*h1, *h2);  // random salts
}

TEST(VaultTest, GeneratedKeysAreRealOpenSshEd25519Keys) {
  TempDir dir;
  auto c = generateCredentials("trainee", "darasa:demo.alice");
  ASSERT_TRUE(c.isOk());
  EXPECT_THAT(c->publicKey, MatchesRegex("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} darasa:demo.alice"));
  const std::string& pem = c->privateKey.reveal();
  EXPECT_THAT(pem, StartsWith("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
  EXPECT_THAT(pem, HasSubstr("\n-----END OPENSSH PRIVATE KEY-----\n"));

  fs::path keyFile = dir.path() / "id_ed25519";
  {
    std::ofstream out(keyFile);
    out << pem;
  }
  fs::permissions(keyFile, fs::perms(0600));

  // ssh-keygen parses the private key and derives the same public key.
  auto [rc, out] = run("ssh-keygen -y -f " + keyFile.string());
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(out, c->publicKey + "\n");

  // And the private half really belongs to the public one: a signature made
  // with the private key verifies against the public key.
  fs::path data = dir.path() / "message";
  {
    std::ofstream m(data);
    m << "lab credentials for alice\n";
  }
  std::tie(rc, out) = run("ssh-keygen -Y sign -q -f " + keyFile.string() + " -n darasa " + data.string());
  ASSERT_EQ(rc, 0) << out;
  fs::path signers = dir.path() / "allowed_signers";
  {
    std::ofstream s(signers);
    s << "alice@darasa " << c->publicKey << "\n";
  }
  std::tie(rc, out) = run("ssh-keygen -Y verify -f " + signers.string() + " -I alice@darasa -n darasa -s " +
                          data.string() + ".sig < " + data.string());
  EXPECT_EQ(rc, 0) << out;

  // Another key does not verify (the check above can fail).
  auto other = generateCredentials("trainee", "x");
  ASSERT_TRUE(other.isOk());
  {
    std::ofstream s(signers, std::ios::trunc);
    s << "alice@darasa " << other->publicKey << "\n";
  }
  std::tie(rc, out) = run("ssh-keygen -Y verify -f " + signers.string() + " -I alice@darasa -n darasa -s " +
                          data.string() + ".sig < " + data.string());
  EXPECT_NE(rc, 0);
}

TEST(VaultTest, LabCredentialsCarryTheHashAndThePublicKey) {
  auto c = generateCredentials("student", "darasa:demo.bob");
  ASSERT_TRUE(c.isOk());
  LabCredentials l = toLabCredentials(*c);
  EXPECT_EQ(l.user, "student");
  EXPECT_EQ(l.password, c->password);
  EXPECT_EQ(l.passwordHash, c->passwordHash);
  EXPECT_EQ(l.authorizedKey, c->publicKey);
}

}  // namespace
}  // namespace darasa
