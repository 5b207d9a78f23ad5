// fetchUrl over providers/http's HttpClient: one client per hop (a calendar
// is fetched once per apply, so there is no connection to reuse).
#include "url_fetch.h"

#include <algorithm>
#include <cctype>

#include "http/http_client.h"
#include "provisioner/units.h"

namespace darasa::cli {
namespace {

std::string lowerAscii(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

struct Target {
  std::string base;  // scheme://host[:port]
  std::string path;  // /path?query, "/" at least
};

Result<Target> split(const std::string& url) {
  std::string lower = lowerAscii(url.substr(0, 8));
  size_t schemeEnd;
  bool https = lower.rfind("https://", 0) == 0;
  if (https) {
    schemeEnd = 8;
  } else if (lower.rfind("http://", 0) == 0) {
    schemeEnd = 7;
  } else {
    return invalidError("\"" + url + "\" is not an http(s) URL");
  }
  size_t slash = url.find_first_of("/?#", schemeEnd);
  std::string authority = url.substr(schemeEnd, slash == std::string::npos ? std::string::npos : slash - schemeEnd);
  if (authority.empty()) return invalidError("\"" + url + "\" has no host");
  if (authority.find('@') != std::string::npos)
    return invalidError("\"" + url + "\": credentials in the URL are not supported");
  std::string host = authority[0] == '[' ? authority.substr(0, authority.find(']') + 1)
                                         : lowerAscii(authority.substr(0, authority.find(':')));
  if (!https && host != "127.0.0.1" && host != "localhost" && host != "[::1]")
    return invalidError("\"" + url + "\": plain http:// is only fetched from 127.0.0.1 or localhost; use https://");
  Target t;
  t.base = url.substr(0, schemeEnd) + authority;
  t.path = slash == std::string::npos ? "/" : url.substr(slash);
  if (t.path[0] != '/') t.path = "/" + t.path;
  if (size_t hash = t.path.find('#'); hash != std::string::npos) t.path.erase(hash);
  return t;
}

// A Location header relative to the URL it answered.
std::string resolve(const Target& from, const std::string& location) {
  if (location.find("://") != std::string::npos) return location;
  if (location.rfind("//", 0) == 0) return from.base.substr(0, from.base.find("://") + 1) + location;
  if (!location.empty() && location[0] == '/') return from.base + location;
  std::string dir = from.path.substr(0, from.path.find('?'));
  dir = dir.substr(0, dir.rfind('/') + 1);
  return from.base + dir + location;
}

}  // namespace

Result<std::string> fetchUrl(const std::string& url, const UrlFetchOptions& options) {
  const Deadline deadline = Deadline::after(options.timeout);
  std::string current = url;
  for (int hop = 0;; ++hop) {
    auto target = split(current);
    if (!target) return target.status();
    auto endpoint = providers::http::Endpoint::parse(target->base);
    if (!endpoint) return endpoint.status().withContext(url);
    providers::http::ErrorHints hints;
    hints.what = "the calendar server";
    providers::http::HttpClient client(endpoint.value(), hints);
    providers::http::HttpRequest req;
    req.path = target->path;
    req.headers = {{"Accept", "text/calendar, */*;q=0.5"}};
    req.maxBodyBytes = options.maxBytes;
    auto resp = client.request(req, deadline);
    if (!resp) {
      if (resp.status().code() == Code::kTimeout)
        return timeoutError("fetching " + url + " took longer than " +
                            std::to_string(options.timeout.count() / 1000) + "s");
      return Status(resp.status().code() == Code::kInvalid ? Code::kInvalid : Code::kUnavailable,
                    "fetching " + url + ": " + resp.status().message());
    }
    const long status = resp->status;
    if (status >= 300 && status < 400 && !resp->header("location").empty()) {
      if (hop >= options.maxRedirects)
        return unavailableError("fetching " + url + ": more than " + std::to_string(options.maxRedirects) +
                                " redirects");
      current = resolve(*target, resp->header("location"));
      continue;
    }
    if (!resp->ok()) {
      std::string what = "HTTP " + std::to_string(status) + " from " + current;
      if (status == 404 || status == 410) return notFoundError(what);
      if (status == 401 || status == 403) return deniedError(what + " (is the calendar private?)");
      return unavailableError(what);
    }
    if (resp->truncated)
      return invalidError(url + " is larger than " + formatSize(static_cast<int64_t>(options.maxBytes)));
    return std::move(resp->body);
  }
}

}  // namespace darasa::cli
