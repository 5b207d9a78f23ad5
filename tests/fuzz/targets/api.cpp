// The REST API's handler: a request written like HTTP ("METHOD TARGET",
// header lines, an empty line, the body) into Api::handle over a real
// store with two cohorts, their labs, credentials and one token per kind
// of caller (tests/provisioner/api_test_fixture.h). "Bearer @admin" (or
// @instructor-demo, @alice, @expired, @revoked, ...) stands for that
// caller's token. Properties: never a crash, never a 500, a JSON answer is
// JSON. The requests change the state (tokens revoked, cohorts deleted):
// it is made again every 500 inputs so that later inputs still reach deep
// routes; the regression test replays each input on the state as the
// inputs before it left it.
#include <memory>

#include "fuzz_target.h"
#include "provisioner/api_test_fixture.h"

namespace {

struct FuzzedApi : darasa::apitest::ApiFixture {
  FuzzedApi() { SetUp(); }
  void TestBody() override {}
  darasa::ApiResponse handle(darasa::ApiRequest r) {
    if (r.authorization.rfind("Bearer @", 0) == 0) {
      auto it = tokens_.find(r.authorization.substr(8));
      if (it != tokens_.end()) r.authorization = "Bearer " + it->second;
    }
    return api_->handle(r);
  }
};

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percentDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

// "METHOD /path?a=b&c=d\nName: value\n...\n\nbody" → ApiRequest.
darasa::ApiRequest parseRequest(const std::string& in) {
  darasa::ApiRequest r;
  r.remote = "127.0.0.1:1";
  size_t pos = 0;
  auto line = [&](std::string& out) {
    if (pos > in.size()) return false;
    size_t nl = in.find('\n', pos);
    if (nl == std::string::npos) nl = in.size();
    out = in.substr(pos, nl - pos);
    pos = nl + 1;
    return true;
  };
  std::string first;
  line(first);
  size_t sp = first.find(' ');
  r.method = first.substr(0, sp);
  std::string target = sp == std::string::npos ? "" : first.substr(sp + 1);
  size_t q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) {
    std::string query = target.substr(q + 1);
    for (size_t start = 0; start <= query.size();) {
      size_t amp = query.find('&', start);
      if (amp == std::string::npos) amp = query.size();
      std::string kv = query.substr(start, amp - start);
      size_t eq = kv.find('=');
      r.query[percentDecode(kv.substr(0, eq))] = eq == std::string::npos ? "" : percentDecode(kv.substr(eq + 1));
      start = amp + 1;
    }
  }
  for (std::string h; line(h) && !h.empty();) {
    size_t colon = h.find(':');
    if (colon == std::string::npos) continue;
    std::string name = h.substr(0, colon), value = h.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "authorization") r.authorization = value;
    else if (name == "content-type") r.contentType = value;
  }
  if (pos < in.size()) r.body = in.substr(pos);
  return r;
}

}  // namespace

DARASA_FUZZ_TARGET(api) {
  static std::unique_ptr<FuzzedApi> api;
  static int inputs = 0;
  if (!api || ++inputs % 500 == 0) {
    api.reset();
    api = std::make_unique<FuzzedApi>();
  }
  auto req = parseRequest(std::string(reinterpret_cast<const char*>(data), size));
  auto resp = api->handle(req);
  const std::string shown = req.method + " " + req.path + " -> " + std::to_string(resp.status) + " " + resp.body;
  DARASA_FUZZ_CHECK(resp.status != 500, shown);
  if (resp.contentType.rfind("application/json", 0) == 0)
    DARASA_FUZZ_CHECK(nlohmann::json::accept(resp.body), shown);
}
